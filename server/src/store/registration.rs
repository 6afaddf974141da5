//! What registration at sign-in reads and writes: when each person's methods were last
//! confirmed, their snoozes, the sessions that wait for them to register, and the listing of
//! who has not registered.
//!
//! A listing by registration state is served by an index on a stored state, `users.
//! registration_state`, with the confirmation it rests on (`registration_anchor_at`, the
//! `required`-th newest). Whatever changes a person's methods judges them again in the same
//! transaction; a tenant whose policy changed (`tenants.registration_judged_for` names the
//! policy its states were judged under) is judged again in batches by a background sweep,
//! and until then its listings count each user's methods instead (exact, but not bounded by
//! the index); the same sweep marks registered people whose anchor lapsed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use super::entities::{session, user, verification_method};
use super::{Store, StoreResult, Tx, UserRow, UserScope};

/// The stored kind of a session that may only register security info.
const REGISTRATION_ONLY: &str = "registration_only";

/// Users in which registration state a listing keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    /// Enough current methods.
    Yes,
    /// Fewer confirmed methods than required.
    No,
    /// Enough confirmed methods, too few of them current.
    ReconfirmDue,
    /// Too few current methods, for either reason.
    Due,
}

/// A registration filter with what the tenant's policy makes of it.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationFilter {
    /// The state kept.
    pub wanted: Registered,
    /// Methods required.
    pub required: u32,
    /// Confirmations at or before this no longer count; `None` when they always count.
    pub stale_at: Option<DateTime<Utc>>,
    /// Read the stored states (the tenant is judged under this policy) rather than count
    /// each user's methods.
    pub stored: bool,
}

/// The stored names of the states.
const REGISTERED: &str = "registered";
const NOT_REGISTERED: &str = "not_registered";
const RECONFIRM_DUE: &str = "reconfirm_due";

/// The name of the policy states are judged under, as kept in `tenants.registration_judged_for`.
pub fn judged_key(required: u32, reconfirm_days: u32) -> String {
    format!("{required}:{reconfirm_days}")
}

impl RegistrationFilter {
    /// The condition on `users` rows: the stored state when the tenant is judged (served by
    /// the (tenant, state, username) index; a lapse not yet swept leaves a person out of
    /// "registered" at once and into "reconfirm due" at the next sweep), else a count of each
    /// user's confirmed methods.
    pub(super) fn condition(&self) -> sea_orm::Condition {
        if !self.stored {
            return self.counted();
        }
        let state = user::Column::RegistrationState;
        let condition = sea_orm::Condition::all();
        match self.wanted {
            Registered::Yes => {
                let condition = condition.add(state.eq(REGISTERED));
                match self.stale_at {
                    Some(at) => condition.add(user::Column::RegistrationAnchorAt.gt(at)),
                    None => condition,
                }
            }
            Registered::No => condition.add(state.eq(NOT_REGISTERED)),
            Registered::ReconfirmDue => condition.add(state.eq(RECONFIRM_DUE)),
            Registered::Due => condition.add(state.ne(REGISTERED)),
        }
    }

    /// The exact condition: a count of each user's confirmed methods, read from the
    /// (user, confirmed time) index alone.
    fn counted(&self) -> sea_orm::Condition {
        let required = i64::from(self.required);
        let confirmed = confirmed_count(None);
        let current = match self.stale_at {
            Some(at) => confirmed_count(Some(at)),
            None => confirmed_count(None),
        };
        let condition = sea_orm::Condition::all();
        match self.wanted {
            Registered::Yes => condition.add(Expr::expr(current).gte(required)),
            Registered::No => condition.add(Expr::expr(confirmed).lt(required)),
            Registered::ReconfirmDue => condition
                .add(Expr::expr(confirmed).gte(required))
                .add(Expr::expr(current).lt(required)),
            Registered::Due => condition.add(Expr::expr(current).lt(required)),
        }
    }
}

/// `(SELECT COUNT(*) FROM verification_methods WHERE user_id = users.id AND verified_at > …)`.
fn confirmed_count(after: Option<DateTime<Utc>>) -> SimpleExpr {
    let column = |c: verification_method::Column| Expr::col((verification_method::Entity, c));
    let mut count = Query::select();
    count
        .expr(
            Expr::col((
                verification_method::Entity,
                verification_method::Column::UserId,
            ))
            .count(),
        )
        .from(verification_method::Entity)
        .and_where(
            column(verification_method::Column::UserId).equals((user::Entity, user::Column::Id)),
        );
    match after {
        Some(at) => count.and_where(column(verification_method::Column::VerifiedAt).gt(at)),
        None => count.and_where(column(verification_method::Column::VerifiedAt).is_not_null()),
    };
    SimpleExpr::SubQuery(None, Box::new(count.into()))
}

impl Store {
    /// When each confirmed method of these users was last confirmed, as (user, time).
    pub async fn confirmations(
        &self,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        let mut found = Vec::new();
        for chunk in user_ids.chunks(500) {
            found.extend(
                verification_method::Entity::find()
                    .select_only()
                    .column(verification_method::Column::UserId)
                    .column(verification_method::Column::VerifiedAt)
                    .filter(verification_method::Column::UserId.is_in(chunk.iter().copied()))
                    .filter(verification_method::Column::VerifiedAt.is_not_null())
                    .into_tuple::<(Uuid, DateTime<Utc>)>()
                    .all(self.conn())
                    .await?,
            );
        }
        Ok(found)
    }

    /// [`Store::confirmations`] grouped by user.
    pub async fn confirmations_by_user(
        &self,
        user_ids: &[Uuid],
    ) -> StoreResult<std::collections::HashMap<Uuid, Vec<DateTime<Utc>>>> {
        let mut by_user: std::collections::HashMap<Uuid, Vec<DateTime<Utc>>> =
            std::collections::HashMap::new();
        for (user, at) in self.confirmations(user_ids).await? {
            by_user.entry(user).or_default().push(at);
        }
        Ok(by_user)
    }

    /// The next page of users a reminder goes to, by id: active, within `scope`, members of
    /// `unit` when given, and matching `registration`.
    pub async fn users_to_remind(
        &self,
        scope: &UserScope<'_>,
        unit: Option<Uuid>,
        registration: &RegistrationFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> StoreResult<Vec<UserRow>> {
        let mut query = user::Entity::find()
            .filter(user::Column::TenantId.eq(scope.tenant_id))
            .filter(user::Column::State.eq("active"))
            .filter(registration.condition());
        query = scope.apply(query, user::Column::Id);
        if let Some(unit) = unit {
            query = query.filter(
                user::Column::Id.in_subquery(super::users::members_of(scope.tenant_id, &[unit])),
            );
        }
        if let Some(after) = after {
            query = query.filter(user::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(user::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?)
    }
}

impl Store {
    /// The next `limit` user ids of a tenant after `after`, in id order.
    pub async fn user_ids_after(
        &self,
        tenant_id: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> StoreResult<Vec<Uuid>> {
        let mut query = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant_id));
        if let Some(after) = after {
            query = query.filter(user::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(user::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await?)
    }
}

impl Tx {
    /// Judges the registration of these users again and stores it: the `required`-th newest
    /// confirmation becomes their anchor, and their state follows from it (none: not
    /// registered; at or before `stale_at`: reconfirmation due). Two set-based statements,
    /// whatever the number of users.
    pub async fn judge_registration(
        &self,
        user_ids: &[Uuid],
        required: u32,
        stale_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let method = |c: verification_method::Column| Expr::col((verification_method::Entity, c));
        let mut anchor = Query::select();
        anchor
            .expr(method(verification_method::Column::VerifiedAt))
            .from(verification_method::Entity)
            .and_where(
                method(verification_method::Column::UserId)
                    .equals((user::Entity, user::Column::Id)),
            )
            .and_where(method(verification_method::Column::VerifiedAt).is_not_null())
            .order_by(
                (
                    verification_method::Entity,
                    verification_method::Column::VerifiedAt,
                ),
                sea_orm::Order::Desc,
            )
            .limit(1)
            .offset(u64::from(required.saturating_sub(1)));
        user::Entity::update_many()
            .col_expr(
                user::Column::RegistrationAnchorAt,
                SimpleExpr::SubQuery(None, Box::new(anchor.into())),
            )
            .filter(user::Column::Id.is_in(user_ids.iter().copied()))
            .exec(self.conn())
            .await?;
        let anchored = Expr::col(user::Column::RegistrationAnchorAt);
        let mut state = Expr::case(anchored.clone().is_null(), NOT_REGISTERED);
        if let Some(at) = stale_at {
            state = state.case(anchored.lte(at), RECONFIRM_DUE);
        }
        user::Entity::update_many()
            .col_expr(
                user::Column::RegistrationState,
                state.finally(REGISTERED).into(),
            )
            .filter(user::Column::Id.is_in(user_ids.iter().copied()))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Marks up to `limit` registered users of a tenant whose anchor is at or before
    /// `stale_at` as due to reconfirm; returns how many.
    pub async fn mark_lapsed(
        &self,
        tenant_id: Uuid,
        stale_at: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<u64> {
        let lapsed: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::RegistrationState.eq(REGISTERED))
            .filter(user::Column::RegistrationAnchorAt.lte(stale_at))
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await?;
        if lapsed.is_empty() {
            return Ok(0);
        }
        Ok(user::Entity::update_many()
            .col_expr(user::Column::RegistrationState, Expr::value(RECONFIRM_DUE))
            .filter(user::Column::Id.is_in(lapsed))
            .exec(self.conn())
            .await?
            .rows_affected)
    }

    /// Records the policy a tenant's registration states are now judged under.
    pub async fn set_registration_judged(&self, tenant_id: Uuid, key: &str) -> StoreResult<()> {
        use super::entities::tenant;
        self.invalidates_cache();
        tenant::Entity::update_many()
            .col_expr(tenant::Column::RegistrationJudgedFor, Expr::value(key))
            .filter(tenant::Column::Id.eq(tenant_id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// When each of a user's confirmed methods was last confirmed, as this transaction sees
    /// them.
    pub async fn confirmations(&self, user_id: Uuid) -> StoreResult<Vec<DateTime<Utc>>> {
        Ok(verification_method::Entity::find()
            .select_only()
            .column(verification_method::Column::VerifiedAt)
            .filter(verification_method::Column::UserId.eq(user_id))
            .filter(verification_method::Column::VerifiedAt.is_not_null())
            .into_tuple::<DateTime<Utc>>()
            .all(self.conn())
            .await?)
    }

    /// Counts a snooze and puts registering off until `until`, unless `max` snoozes were
    /// used already; false then.
    pub async fn snooze_registration(
        &self,
        user_id: Uuid,
        max: u32,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::RegistrationSnoozesUsed,
                Expr::col(user::Column::RegistrationSnoozesUsed).add(1),
            )
            .col_expr(user::Column::RegistrationSnoozedUntil, Expr::value(until))
            .filter(user::Column::Id.eq(user_id))
            .filter(user::Column::RegistrationSnoozesUsed.lt(i32::try_from(max).unwrap_or(0)))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// A registered person's snoozes start again: the next time something falls due they
    /// may put it off as often as the policy allows.
    pub async fn clear_registration_snoozes(&self, user_id: Uuid) -> StoreResult<()> {
        user::Entity::update_many()
            .col_expr(user::Column::RegistrationSnoozesUsed, Expr::value(0))
            .col_expr(
                user::Column::RegistrationSnoozedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(user_id))
            .filter(
                user::Column::RegistrationSnoozesUsed
                    .ne(0)
                    .or(user::Column::RegistrationSnoozedUntil.is_not_null()),
            )
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Turns a user's live registration-only sessions into full ones; returns how many. The
    /// cached sessions of this process are forgotten at commit.
    pub async fn open_registration_sessions(
        &self,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let opened = session::Entity::update_many()
            .col_expr(session::Column::Kind, Expr::value("full"))
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::Kind.eq(REGISTRATION_ONLY))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(at))
            .exec(self.conn())
            .await?
            .rows_affected;
        if opened > 0 {
            self.invalidates_cache();
        }
        Ok(opened)
    }

    /// Of `ids`, those still active, still matching `registration` and not reminded after
    /// `since`, as this transaction sees them, marked reminded at `at`: a reminder run racing
    /// another (or retried) sends nobody a second one, and nobody blocked or registered
    /// since the page was read gets one.
    pub async fn take_reminders(
        &self,
        ids: &[Uuid],
        registration: &RegistrationFilter,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<Uuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let not_recent = user::Column::RegistrationRemindedAt
            .is_null()
            .or(user::Column::RegistrationRemindedAt.lte(since));
        let due: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .filter(user::Column::State.eq("active"))
            .filter(registration.condition())
            .filter(not_recent)
            .into_tuple()
            .all(self.conn())
            .await?;
        if !due.is_empty() {
            user::Entity::update_many()
                .col_expr(user::Column::RegistrationRemindedAt, Expr::value(at))
                .filter(user::Column::Id.is_in(due.iter().copied()))
                .exec(self.conn())
                .await?;
        }
        Ok(due)
    }
}
