//! The `send_quotas` table.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "send_quotas")]
pub struct Model {
    /// The counter's key: a MAC (hex) of its kind and subject made by the domain, never an
    /// address.
    #[sea_orm(primary_key, auto_increment = false)]
    pub destination: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub window_start: DateTimeUtc,
    pub sent: i32,
}

#[allow(missing_docs)]
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
