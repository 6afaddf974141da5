//! The `password_policies` table.

use sea_orm::entity::prelude::*;

#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub min_length: i32,
    pub max_length: i32,
    pub history_count: i32,
    pub max_age_days: i32,
    pub lockout_threshold: i32,
    pub lockout_seconds: i32,
    pub temporary_password_hours: i32,
    pub reset_code_minutes: i32,
    pub reset_code_attempts: i32,
    pub reset_methods_required: i32,
    pub updated_at: DateTimeUtc,
    pub min_strength_score: i32,
    pub banned_terms: String,
    pub expiry_reminder_days: i32,
    pub lockout_max_seconds: i32,
    pub invitation_hours: i32,
    pub notify_person_on_admin_reset: bool,
    pub notify_admins_on_admin_password_change: bool,
    pub compromised_check_at_sign_in: bool,
    pub require_registration: bool,
    pub registration_snoozes: i32,
    pub registration_snooze_days: i32,
    pub reconfirm_days: i32,
}

#[allow(missing_docs)]
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
