//! The `tenants` table.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub primary_domain: Option<String>,
    pub is_default: bool,
    pub audit_seq: i64,
    pub audit_head: String,
    /// The sequence number of the last event removed by the audit retention (0: none).
    pub audit_removed_seq: i64,
    /// The hash of that event: the first remaining event links to it.
    pub audit_removed_hash: String,
    /// The policy (`required:reconfirm_days`) its users' registration states were judged
    /// under; empty until the first judging.
    pub registration_judged_for: String,
    pub created_at: DateTimeUtc,
}

#[allow(missing_docs)]
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
