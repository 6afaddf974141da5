//! Counts of password activity from the audit log, grouped in the database: one indexed range
//! per action (`ix_audit_events_tenant_action_time`), never a row per event in memory.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait as _, DatabaseBackend, EntityTrait as _, FromQueryResult, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use super::entities::audit_event;
use super::{Store, StoreResult};

/// The actions a password activity report counts.
pub const REPORTED_ACTIONS: &[&str] = &[
    "password.reset",
    "password.self_reset",
    "password.change",
    "reset.start",
    "reset.code_rejected",
    "reset.code_not_sent",
    "reset.code_held_back",
    "user.locked_out",
    "reset_request.ask",
    "reset_request.resolve",
    "reset_request.dismiss",
];

/// The actions whose events a report tells apart by their details: the kind of an
/// administrator's reset, and the refusals that mean a flow ran out of tries or sends.
const KINDED_ACTIONS: &[&str] = &[
    "password.reset",
    "reset.code_rejected",
    "reset.code_not_sent",
];

/// The kind of one of [`KINDED_ACTIONS`]' events, read from its details in SQL; `NULL` for the
/// rest, which the kind query leaves out.
const KIND: &str = r#"CASE
    WHEN action = 'password.reset' AND details LIKE '%"bulk_job":%' THEN 'bulk'
    WHEN action = 'password.reset' AND details LIKE '%"delivery":"invitation"%' THEN 'invitation'
    WHEN action = 'reset.code_rejected' AND details LIKE '%"reason":"no_tries_left"%' THEN 'blocked'
    WHEN action = 'reset.code_not_sent' AND details LIKE '%"reason":"flow_sends_used_up"%' THEN 'blocked'
    END"#;

/// How many events of one action, outcome and kind fell in one period.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct ActivityCount {
    /// The period's start in UTC, as text: `YYYY-MM-DD`, then `HH` after a separator when
    /// hourly.
    pub bucket: String,
    /// The event's action.
    pub action: String,
    /// The event's outcome.
    pub outcome: String,
    /// See [`KIND`]; empty in the per-action counts.
    pub kind: String,
    /// How many.
    pub n: i64,
}

/// An actor and how many passwords they reset.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct ActorCount {
    /// `user:<id>` or `service:<name>`.
    pub actor: String,
    /// How many.
    pub n: i64,
}

impl Store {
    /// Counts of the reported actions in `[start, end)`, per day or hour (UTC), by action
    /// and outcome (`kind` empty), then the events set apart by their details (`kind` set,
    /// counted again under their action). The first query reads only the index
    /// `(tenant_id, action, occurred_at, outcome)`; only the second reads rows, and only of
    /// the [`KINDED_ACTIONS`].
    pub async fn activity_counts(
        &self,
        tenant_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        hourly: bool,
    ) -> StoreResult<Vec<ActivityCount>> {
        let bucket = match (self.conn().get_database_backend(), hourly) {
            (DatabaseBackend::Postgres, false) => {
                "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            }
            (DatabaseBackend::Postgres, true) => {
                "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
            }
            // SQLite keeps the time as RFC 3339 text in UTC.
            (_, false) => "substr(occurred_at, 1, 10)",
            (_, true) => "substr(occurred_at, 1, 13)",
        };
        let window = |actions: &'static [&'static str]| {
            audit_event::Entity::find()
                .filter(audit_event::Column::TenantId.eq(tenant_id))
                .filter(audit_event::Column::Action.is_in(actions.iter().copied()))
                .filter(audit_event::Column::OccurredAt.gte(start))
                .filter(audit_event::Column::OccurredAt.lt(end))
        };
        let mut counts = window(REPORTED_ACTIONS)
            .select_only()
            .column_as(Expr::cust(bucket), "bucket")
            .column(audit_event::Column::Action)
            .column(audit_event::Column::Outcome)
            .column_as(Expr::val(""), "kind")
            .column_as(Expr::cust("COUNT(*)"), "n")
            .group_by(Expr::cust(bucket))
            .group_by(audit_event::Column::Action)
            .group_by(audit_event::Column::Outcome)
            .into_model::<ActivityCount>()
            .all(self.conn())
            .await?;
        let kinded = window(KINDED_ACTIONS)
            .select_only()
            .column_as(Expr::cust(bucket), "bucket")
            .column(audit_event::Column::Action)
            .column(audit_event::Column::Outcome)
            .column_as(Expr::cust(KIND), "kind")
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(Expr::cust(KIND).is_not_null())
            .group_by(Expr::cust(bucket))
            .group_by(audit_event::Column::Action)
            .group_by(audit_event::Column::Outcome)
            .group_by(Expr::cust(KIND))
            .into_model::<ActivityCount>()
            .all(self.conn())
            .await?;
        counts.extend(kinded);
        Ok(counts)
    }

    /// The actors with the most successful administrator resets in `[start, end)`, most first.
    pub async fn top_resetters(
        &self,
        tenant_id: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<ActorCount>> {
        Ok(audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Actor)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(audit_event::Column::TenantId.eq(tenant_id))
            .filter(audit_event::Column::Action.eq("password.reset"))
            .filter(audit_event::Column::Outcome.eq("success"))
            .filter(audit_event::Column::OccurredAt.gte(start))
            .filter(audit_event::Column::OccurredAt.lt(end))
            .group_by(audit_event::Column::Actor)
            .order_by_desc(Expr::cust("n"))
            .order_by_asc(audit_event::Column::Actor)
            .limit(limit)
            .into_model::<ActorCount>()
            .all(self.conn())
            .await?)
    }
}
