//! Users and their password credentials.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait as _, QueryFilter, QueryOrder as _,
    QuerySelect as _, QueryTrait as _,
};
use uuid::Uuid;

use super::entities::{password_credential, password_history, user};
use super::{CredentialRow, PasswordHash, Store, StoreError, StoreResult, Tx, UserRow};

/// Which users a listing returns.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only users in this state.
    pub state: Option<String>,
    /// Only users whose username sorts after this one (keyset pagination).
    pub after_username: Option<String>,
    /// Only members of any of these units.
    pub in_units: Option<Vec<Uuid>>,
    /// Only users in this registration state.
    pub registration: Option<super::RegistrationFilter>,
}

/// Profile fields to change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    /// New username.
    pub username: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New contact email.
    pub contact_email: Option<String>,
    /// New state.
    pub state: Option<String>,
    /// New expiry exemption.
    pub password_never_expires: Option<bool>,
}

fn by_username(tenant_id: Uuid, username: &str) -> sea_orm::Select<user::Entity> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Username.eq(username))
}

const USERNAME_TAKEN: &str = "a user with this username already exists in the tenant";

impl Store {
    /// A user of the tenant by id.
    pub async fn user_by_id(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<UserRow>> {
        Ok(user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant_id))
            .one(self.conn())
            .await?)
    }

    /// The users of the tenant among `ids`.
    pub async fn users_by_ids(&self, tenant_id: Uuid, ids: &[Uuid]) -> StoreResult<Vec<UserRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .all(self.conn())
            .await?)
    }

    /// A user of the tenant by (lower-case) username.
    pub async fn user_by_username(
        &self,
        tenant_id: Uuid,
        username: &str,
    ) -> StoreResult<Option<UserRow>> {
        Ok(by_username(tenant_id, username).one(self.conn()).await?)
    }

    /// A user of the tenant (by id, or by lower-case username) with their credential and the
    /// times their confirmed methods were last confirmed, as an administrator reads them: from
    /// the read cache, which every write transaction of this process that may change a view
    /// invalidates and which serves another replica's change within its TTL.
    pub async fn user_view(
        &self,
        tenant_id: Uuid,
        id: Option<Uuid>,
        username: &str,
    ) -> StoreResult<Option<(UserRow, Option<CredentialRow>, Vec<DateTime<Utc>>)>> {
        let key = match id {
            Some(id) => super::cache::UserKey::Id(id),
            None => super::cache::UserKey::Username(username.to_owned()),
        };
        let load = async {
            let user = match id {
                Some(id) => self.user_by_id(tenant_id, id).await?,
                None => self.user_by_username(tenant_id, username).await?,
            };
            let Some(user) = user else {
                return Ok(None);
            };
            let credential = self.credential(user.id).await?;
            let confirmed = self
                .confirmations_by_user(&[user.id])
                .await?
                .remove(&user.id)
                .unwrap_or_default();
            Ok(Some((user, credential, confirmed)))
        };
        self.cache.user_view((tenant_id, key), load).await
    }

    /// How many users, in any tenant, have a username under `domain` (`…@domain`).
    pub async fn users_under_domain(&self, domain: &str) -> StoreResult<u64> {
        use sea_orm::PaginatorTrait as _;
        Ok(user::Entity::find()
            .filter(user::Column::Username.like(format!("%@{domain}")))
            .count(self.conn())
            .await?)
    }

    /// The users of a tenant with these (lower-case) usernames.
    pub async fn users_by_usernames(
        &self,
        tenant_id: Uuid,
        usernames: &[String],
    ) -> StoreResult<Vec<UserRow>> {
        let mut found = Vec::new();
        for chunk in usernames.chunks(500) {
            found.extend(
                user::Entity::find()
                    .filter(user::Column::TenantId.eq(tenant_id))
                    .filter(user::Column::Username.is_in(chunk.iter().cloned()))
                    .all(self.conn())
                    .await?,
            );
        }
        Ok(found)
    }

    /// A page of users ordered by username.
    pub async fn list_users(
        &self,
        tenant_id: Uuid,
        filter: &UserFilter,
        limit: u64,
    ) -> StoreResult<Vec<UserRow>> {
        let mut query = user::Entity::find().filter(user::Column::TenantId.eq(tenant_id));
        if let Some(state) = &filter.state {
            query = query.filter(user::Column::State.eq(state.as_str()));
        }
        if let Some(after) = &filter.after_username {
            query = query.filter(user::Column::Username.gt(after.as_str()));
        }
        if let Some(units) = &filter.in_units {
            query = query.filter(user::Column::Id.in_subquery(members_of(tenant_id, units)));
        }
        if let Some(registration) = &filter.registration {
            query = query.filter(registration.condition());
        }
        Ok(query
            .order_by_asc(user::Column::Username)
            .limit(limit)
            .all(self.conn())
            .await?)
    }

    /// The password credential of a user.
    pub async fn credential(&self, user_id: Uuid) -> StoreResult<Option<CredentialRow>> {
        Ok(password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?)
    }

    /// The password credentials of several users.
    pub async fn credentials(&self, user_ids: &[Uuid]) -> StoreResult<Vec<CredentialRow>> {
        Ok(password_credential::Entity::find()
            .filter(password_credential::Column::UserId.is_in(user_ids.iter().copied()))
            .all(self.conn())
            .await?)
    }

    /// The latest `count` previous password hashes of a user, newest first.
    pub async fn password_history(
        &self,
        user_id: Uuid,
        count: u64,
    ) -> StoreResult<Vec<PasswordHash>> {
        Ok(password_history::Entity::find()
            .filter(password_history::Column::UserId.eq(user_id))
            .order_by_desc(password_history::Column::SetAt)
            .limit(count)
            .all(self.conn())
            .await?
            .into_iter()
            .map(|row| row.hash)
            .collect())
    }
}

impl Tx {
    /// A user of the tenant by (lower-case) username, read inside the transaction.
    pub async fn user_by_username(
        &self,
        tenant_id: Uuid,
        username: &str,
    ) -> StoreResult<Option<UserRow>> {
        Ok(by_username(tenant_id, username).one(self.conn()).await?)
    }
}

impl Tx {
    /// Inserts a user; a taken username is [`StoreError::Conflict`].
    pub async fn insert_user(&self, row: UserRow) -> StoreResult<UserRow> {
        user::Entity::insert(user::ActiveModel::from(row))
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, USERNAME_TAKEN))
    }

    /// Applies a patch when the user is still at `expected_version`, bumping the version.
    /// `None` when the user is missing or was changed in between.
    pub async fn update_user(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: i64,
        patch: UserPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<UserRow>> {
        let mut update = user::Entity::update_many()
            .col_expr(
                user::Column::Version,
                Expr::col(user::Column::Version).add(1),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(at))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::Version.eq(expected_version));
        if let Some(v) = patch.username {
            update = update.col_expr(user::Column::Username, Expr::value(v));
        }
        if let Some(v) = patch.display_name {
            update = update.col_expr(user::Column::DisplayName, Expr::value(v));
        }
        if let Some(v) = patch.contact_email {
            update = update.col_expr(user::Column::ContactEmail, Expr::value(v));
        }
        if let Some(v) = patch.state {
            update = update.col_expr(user::Column::State, Expr::value(v));
        }
        if let Some(v) = patch.password_never_expires {
            update = update.col_expr(user::Column::PasswordNeverExpires, Expr::value(v));
        }
        let result = update
            .exec(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, USERNAME_TAKEN))?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        Ok(user::Entity::find_by_id(id).one(self.conn()).await?)
    }

    /// Deletes a user (and, by cascade, their credential, history, sessions and roles).
    /// With `expected_version`, only when the user is still at that version.
    pub async fn delete_user(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> StoreResult<bool> {
        self.invalidates_cache();
        let mut delete = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::TenantId.eq(tenant_id));
        if let Some(version) = expected_version {
            delete = delete.filter(user::Column::Version.eq(version));
        }
        Ok(delete.exec(self.conn()).await?.rows_affected == 1)
    }

    /// Locks a user's row until the transaction ends and returns it; `None` when the user
    /// is gone. Every change of a user's credential takes this lock first (after the tenant
    /// lock of [`Store::write_tenant`]), so credential changes of one user never interleave.
    pub async fn lock_user(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<UserRow>> {
        Ok(user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant_id))
            .lock_exclusive()
            .one(self.conn())
            .await?)
    }

    /// The user's credential as this transaction sees it.
    pub async fn credential(&self, user_id: Uuid) -> StoreResult<Option<CredentialRow>> {
        Ok(password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?)
    }

    /// Replaces a user's password credential, moving the old hash to the history, and uses
    /// up any unused one-time code of the user: a code must not outlive the password it was
    /// sent to replace. Call [`Tx::lock_user`] first.
    pub async fn put_credential(&self, row: CredentialRow) -> StoreResult<()> {
        super::entities::one_time_code::Entity::update_many()
            .col_expr(
                super::entities::one_time_code::Column::UsedAt,
                Expr::value(row.set_at),
            )
            .filter(super::entities::one_time_code::Column::UserId.eq(row.user_id))
            .filter(super::entities::one_time_code::Column::UsedAt.is_null())
            .exec(self.conn())
            .await?;
        let previous = password_credential::Entity::find_by_id(row.user_id)
            .one(self.conn())
            .await?;
        let active =
            sea_orm::ActiveModelTrait::reset_all(password_credential::ActiveModel::from(row));
        match previous {
            Some(old) => {
                password_history::Entity::insert(password_history::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    tenant_id: Set(old.tenant_id),
                    user_id: Set(old.user_id),
                    hash: Set(old.hash),
                    set_at: Set(old.set_at),
                })
                .exec(self.conn())
                .await?;
                password_credential::Entity::update(active)
                    .exec(self.conn())
                    .await?;
            }
            None => {
                password_credential::Entity::insert(active)
                    .exec(self.conn())
                    .await?;
            }
        }
        Ok(())
    }

    /// Replaces only the hash of the current credential (a re-hash with stronger settings).
    pub async fn rehash_credential(
        &self,
        user_id: Uuid,
        old_hash: &PasswordHash,
        new_hash: PasswordHash,
    ) -> StoreResult<()> {
        password_credential::Entity::update_many()
            .col_expr(password_credential::Column::Hash, Expr::value(new_hash))
            .filter(password_credential::Column::UserId.eq(user_id))
            .filter(password_credential::Column::Hash.eq(old_hash.clone()))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Keeps only the newest `keep` history entries of a user.
    pub async fn trim_history(&self, user_id: Uuid, keep: u64) -> StoreResult<()> {
        let stale: Vec<Uuid> = password_history::Entity::find()
            .filter(password_history::Column::UserId.eq(user_id))
            .order_by_desc(password_history::Column::SetAt)
            .all(self.conn())
            .await?
            .into_iter()
            .skip(usize::try_from(keep).unwrap_or(usize::MAX))
            .map(|row| row.id)
            .collect();
        if !stale.is_empty() {
            password_history::Entity::delete_many()
                .filter(password_history::Column::Id.is_in(stale))
                .exec(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// Users of a tenant that a bulk statement applies to: a list or everyone, within the
/// actor's reach, minus the actor.
#[derive(Clone, Debug)]
pub struct UserScope<'a> {
    /// The tenant.
    pub tenant_id: Uuid,
    /// Only these users; `None` for all.
    pub user_ids: Option<&'a [Uuid]>,
    /// A user is in scope when any one of these reaches them; none reaches nobody.
    pub reach: Vec<Reach>,
    /// This user (the actor) is left alone.
    pub except: Option<Uuid>,
}

/// Part of what an actor may act on: the members of some units (or everyone), less the holders
/// of some roles.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    /// Only members of these units; `None` for every user of the tenant.
    pub units: Option<Vec<Uuid>>,
    /// Users holding any of these roles (in any scope) are out of reach.
    pub protected_roles: Vec<String>,
}

impl Reach {
    /// Every user of the tenant.
    pub fn everyone() -> Reach {
        Reach::default()
    }

    fn condition(&self, tenant_id: Uuid, user_id: impl ColumnTrait) -> sea_orm::Condition {
        use super::entities::role_assignment;
        let mut condition = sea_orm::Condition::all();
        if let Some(units) = &self.units {
            condition = condition.add(user_id.in_subquery(members_of(tenant_id, units)));
        }
        if !self.protected_roles.is_empty() {
            let protected = role_assignment::Entity::find()
                .select_only()
                .column(role_assignment::Column::UserId)
                .filter(role_assignment::Column::TenantId.eq(tenant_id))
                .filter(role_assignment::Column::UserId.is_not_null())
                .filter(role_assignment::Column::Role.is_in(self.protected_roles.iter().cloned()))
                .into_query();
            condition = condition.add(user_id.not_in_subquery(protected));
        }
        condition
    }
}

/// The ids of the members of any of `units`, as a subquery.
pub(super) fn members_of(tenant_id: Uuid, units: &[Uuid]) -> sea_orm::sea_query::SelectStatement {
    use super::entities::unit_member;
    unit_member::Entity::find()
        .select_only()
        .column(unit_member::Column::UserId)
        .filter(unit_member::Column::TenantId.eq(tenant_id))
        .filter(unit_member::Column::UnitId.is_in(units.iter().copied()))
        .into_query()
}

impl UserScope<'_> {
    pub(crate) fn apply<Q: QueryFilter>(&self, query: Q, user_id: impl ColumnTrait + Copy) -> Q {
        let mut query = query;
        if let Some(ids) = self.user_ids {
            query = query.filter(user_id.is_in(ids.iter().copied()));
        }
        query = match self.reach.as_slice() {
            [] => query.filter(Expr::value(false)),
            [one] => query.filter(one.condition(self.tenant_id, user_id)),
            many => query.filter(many.iter().fold(sea_orm::Condition::any(), |any, reach| {
                any.add(reach.condition(self.tenant_id, user_id))
            })),
        };
        if let Some(actor) = self.except {
            query = query.filter(user_id.ne(actor));
        }
        query
    }
}

impl Tx {
    /// Sets "must change at next sign-in" on every credential in scope, in one statement;
    /// returns how many.
    pub async fn require_change(&self, scope: &UserScope<'_>) -> StoreResult<u64> {
        let update = password_credential::Entity::update_many()
            .col_expr(password_credential::Column::MustChange, Expr::value(true))
            .filter(password_credential::Column::TenantId.eq(scope.tenant_id));
        let update = scope.apply(update, password_credential::Column::UserId);
        Ok(update.exec(self.conn()).await?.rows_affected)
    }

    /// Revokes every live session of the users in scope, in one statement.
    pub async fn revoke_sessions_in(
        &self,
        scope: &UserScope<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        use super::entities::session;
        self.invalidates_cache();
        let update = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(at))
            .filter(session::Column::TenantId.eq(scope.tenant_id))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(at));
        let update = scope.apply(update, session::Column::UserId);
        Ok(update.exec(self.conn()).await?.rows_affected)
    }

    /// Clears a user's failed-attempt count and lock; returns whether they were locked.
    pub async fn unlock(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let Some(credential) = password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?
        else {
            return Ok(false);
        };
        let was_locked = credential.locked_until.is_some_and(|until| until > at);
        password_credential::Entity::update_many()
            .col_expr(password_credential::Column::FailedAttempts, Expr::value(0))
            .col_expr(password_credential::Column::LockoutCount, Expr::value(0))
            .col_expr(
                password_credential::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(password_credential::Column::RecentFailures, Expr::value(""))
            .filter(password_credential::Column::UserId.eq(user_id))
            .exec(self.conn())
            .await?;
        Ok(was_locked)
    }
}
