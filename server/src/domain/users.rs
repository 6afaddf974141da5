//! Administration of users and their passwords.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::authz;
use super::error::{Error, FieldViolation};
use super::notices::PasswordSet;
use super::policy::generate_password;
use super::registration::Registration;
use super::secret::Password;
use super::service::{Gatehouse, corrupt, new_credential};
use super::types::{Actor, RegistrationState, Role, User, UserState};
use crate::store::{self, CredentialRow, Tx, UserFilter, UserPatch, UserRow};

/// The purpose of an administrator's invitation code.
pub(crate) const INVITATION: &str = "invitation";

/// Largest page a listing returns.
pub(crate) const MAX_PAGE_SIZE: u32 = 500;
/// Page size when the caller names none.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 100;

/// Input of [`Gatehouse::create_user`].
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// Sign-in name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Where notices go; may be empty.
    pub contact_email: String,
}

/// Input of [`Gatehouse::update_user`].
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    /// New username.
    pub username: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New contact email (empty clears it).
    pub contact_email: Option<String>,
    /// New expiry exemption.
    pub password_never_expires: Option<bool>,
}

/// A page of users.
#[derive(Clone, Debug)]
pub struct UserPage {
    /// The users, by username.
    pub users: Vec<User>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
}

/// Input of [`Gatehouse::reset_password`].
#[derive(Clone, Debug)]
pub struct ResetOptions {
    /// The caller's chosen password; `None` generates one.
    pub password: Option<Password>,
    /// Require a change at next sign-in (a temporary password).
    pub require_change: bool,
    /// Email a single-use code instead of showing a password.
    pub invite: bool,
    /// Something this reset settles in its own transaction: a "contact an administrator"
    /// request, or an item of a bulk job.
    pub settles: Option<Settles>,
}

/// Output of [`Gatehouse::reset_password`].
#[derive(Debug)]
pub struct ResetOutcome {
    /// The generated password, to show once.
    pub generated: Option<Password>,
    /// Whether a change is required at next sign-in.
    pub change_required: bool,
    /// When the temporary password stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Sessions revoked.
    pub revoked_sessions: u64,
    /// An invitation was queued.
    pub invitation_sent: bool,
}

/// A user named by id or username.
#[derive(Clone, Debug)]
pub enum UserKey {
    /// By id (text, validated here).
    Id(String),
    /// By username.
    Username(String),
}

impl Gatehouse {
    /// Creates a user without a password.
    pub async fn create_user(&self, actor: &Actor, input: NewUser) -> Result<User, Error> {
        self.require_tenant_wide(actor, "user.create", &[Role::GlobalAdmin, Role::UserAdmin])
            .await?;
        let mut violations = Vec::new();
        let username = collect(
            &mut violations,
            normalise_username("username", &input.username),
        );
        let display_name = collect(
            &mut violations,
            check_display_name("display_name", &input.display_name),
        );
        let contact_email = collect(
            &mut violations,
            check_contact_email("contact_email", &input.contact_email),
        );
        Error::from_violations(violations)?;
        let (Some(username), Some(display_name), Some(contact_email)) =
            (username, display_name, contact_email)
        else {
            return Err(corrupt("validation passed without values".to_owned()));
        };
        let now = store::now();
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let row = tx
            .insert_user(UserRow {
                id: Uuid::now_v7(),
                tenant_id: actor.tenant_id,
                username: username.clone(),
                display_name,
                contact_email,
                state: UserState::Active.as_str().to_owned(),
                created_at: now,
                updated_at: now,
                version: 1,
                password_never_expires: false,
                registration_snoozes_used: 0,
                registration_snoozed_until: None,
                registration_reminded_at: None,
                registration_state: "not_registered".to_owned(),
                registration_anchor_at: None,
            })
            .await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "user.create",
            format!("user:{}", row.id),
            Outcome::Success,
            &[("username", &username)],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %row.id, "user created");
        self.to_user(row).await
    }

    /// Reads one user of the actor's tenant.
    pub async fn get_user(&self, actor: &Actor, key: UserKey) -> Result<User, Error> {
        let view = match &key {
            UserKey::Id(id) => {
                let id =
                    parse_id("user.id", id).map_err(|v| Error::invalid(&v.field, v.description))?;
                self.store.user_view(actor.tenant_id, Some(id), "").await?
            }
            UserKey::Username(name) => {
                let name = normalise_username("user.username", name)?;
                self.store.user_view(actor.tenant_id, None, &name).await?
            }
        };
        let (row, credential, confirmations) =
            view.ok_or_else(|| Error::NotFound("no such user in this tenant".to_owned()))?;
        if actor.roles.is_empty() {
            let units = self.units_of(row.tenant_id, row.id).await?;
            if !authz::sees(actor, &units) {
                let reason = "this user is not a member of any administrative unit over which you hold a role";
                return Err(self
                    .deny(
                        actor,
                        "user.read",
                        format!("user:{}", row.id),
                        reason.to_owned(),
                    )
                    .await);
            }
        }
        let roles = self.roles_of(row.tenant_id, row.id).await?;
        let policy = self.policy(row.tenant_id).await?;
        let registration = Registration::judge(&policy, &row, &confirmations, store::now());
        user_view(row, roles, credential.as_ref(), &registration)
    }

    /// A page of users of the actor's tenant.
    pub async fn list_users(
        &self,
        actor: &Actor,
        state: Option<UserState>,
        unit: Option<&str>,
        registration: Option<RegistrationState>,
        page_size: i32,
        page_token: &str,
    ) -> Result<UserPage, Error> {
        let limit = page_size_or_default(page_size)?;
        let unit = match unit {
            Some(id) => Some(self.readable_unit(actor, id, "user.list").await?),
            None => None,
        };
        let scope = format!(
            "users:{}:{}:{}",
            state.map_or("", |s| s.as_str()),
            unit.map(|u| u.to_string()).unwrap_or_default(),
            registration.map_or("", |r| r.as_str()),
        );
        let after = self.page_after(actor.tenant_id, &scope, page_token)?;
        // A scoped admin lists the members of their units; a unit filter narrows to one.
        let in_units = match unit {
            Some(unit) => Some(vec![unit]),
            None => authz::read_reach(actor).units,
        };
        let filter = UserFilter {
            state: state.map(|s| s.as_str().to_owned()),
            after_username: after,
            in_units,
            registration: match registration {
                Some(wanted) => {
                    let policy = self.policy(actor.tenant_id).await?;
                    let stored = self.registration_judged(actor.tenant_id, &policy).await?;
                    Some(super::registration::filter(
                        &policy,
                        match wanted {
                            RegistrationState::Registered => store::Registered::Yes,
                            RegistrationState::NotRegistered => store::Registered::No,
                            RegistrationState::ReconfirmDue => store::Registered::ReconfirmDue,
                        },
                        store::now(),
                        stored,
                    ))
                }
                None => None,
            },
        };
        let mut rows = self
            .store
            .list_users(actor.tenant_id, &filter, u64::from(limit) + 1)
            .await?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|last| self.page_token(actor.tenant_id, &scope, &last.username))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        let users = self.to_users(actor.tenant_id, rows).await?;
        Ok(UserPage {
            users,
            next_page_token,
        })
    }

    /// Changes a user's profile if they are still at `version`.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        changes: UserChanges,
    ) -> Result<User, Error> {
        self.require(actor, "user.update", &[Role::GlobalAdmin, Role::UserAdmin])
            .await?;
        let mut violations = Vec::new();
        if version <= 0 {
            violations.push(FieldViolation::new(
                "version",
                "send the version of the user you read (GetUser)",
            ));
        }
        let patch = UserPatch {
            username: changes
                .username
                .and_then(|u| collect(&mut violations, normalise_username("username", &u))),
            display_name: changes
                .display_name
                .and_then(|d| collect(&mut violations, check_display_name("display_name", &d))),
            contact_email: changes
                .contact_email
                .and_then(|c| collect(&mut violations, check_contact_email("contact_email", &c))),
            state: None,
            password_never_expires: changes.password_never_expires,
        };
        let id = parse_id("id", id);
        if let Err(v) = &id {
            violations.push(v.clone());
        }
        Error::from_violations(violations)?;
        let target = self
            .find_user(
                actor,
                UserKey::Id(id.map(|i| i.to_string()).unwrap_or_default()),
            )
            .await?;
        let (tx, current, _) = self.target_tx(actor, "user.update", target.id).await?;
        let updated = tx
            .update_user(actor.tenant_id, target.id, version, patch, store::now())
            .await?
            .ok_or_else(|| stale(current.version, version))?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "user.update",
            format!("user:{}", target.id),
            Outcome::Success,
            &[("version", &updated.version.to_string())],
        ))
        .await?;
        tx.commit().await?;
        self.to_user(updated).await
    }

    /// Deletes a user (if still at `version`, when one is given).
    pub async fn delete_user(&self, actor: &Actor, id: &str, version: i64) -> Result<(), Error> {
        self.require(actor, "user.delete", &[Role::GlobalAdmin, Role::UserAdmin])
            .await?;
        let id = parse_id("id", id).map_err(|v| Error::invalid(&v.field, v.description))?;
        let target = self.find_user(actor, UserKey::Id(id.to_string())).await?;
        let (tx, current, roles) = self.target_tx(actor, "user.delete", target.id).await?;
        if roles.contains(&Role::GlobalAdmin)
            && tx
                .count_users_with_role(actor.tenant_id, Role::GlobalAdmin.as_str())
                .await?
                <= 1
        {
            return Err(Error::FailedPrecondition(
                "this is the tenant's last global admin; assign the role to someone else first"
                    .to_owned(),
            ));
        }
        let expected = (version != 0).then_some(version);
        if !tx.delete_user(actor.tenant_id, target.id, expected).await? {
            return Err(stale(current.version, version));
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "user.delete",
            format!("user:{}", target.id),
            Outcome::Success,
            &[("username", &target.username)],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %target.id, "user deleted");
        Ok(())
    }

    /// Gives a user a new (by default generated, temporary) password and revokes their
    /// sessions.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        key: UserKey,
        options: ResetOptions,
    ) -> Result<ResetOutcome, Error> {
        self.require(
            actor,
            "password.reset",
            &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin],
        )
        .await?;
        let target = self.find_user(actor, key).await?;
        if options.invite && options.password.is_some() {
            return Err(Error::invalid(
                "password",
                "an invitation lets the person choose their password: leave password empty",
            ));
        }
        self.authorize(actor, "password.reset", target.id).await?;
        let policy = self.policy(actor.tenant_id).await?;
        let by = self.principal_name(actor).await?;
        if options.invite {
            return self
                .invite(actor, &by, &target, &policy, options.settles.as_ref())
                .await;
        }
        let (password, generated) = match options.password {
            Some(password) => {
                Error::from_violations(self.check_new_password(
                    &policy,
                    "password",
                    &password,
                    &target.username,
                    &target.display_name,
                ))?;
                (password, false)
            }
            None => (generate_password(), true),
        };
        let hash = self.hasher.hash(&password).await?;
        let now = store::now();
        let expires_at = options
            .require_change
            .then(|| now + chrono::Duration::hours(policy.temporary_password_hours.into()));
        let how = if generated {
            "a temporary password"
        } else {
            "a password set by the administrator"
        };
        let notices = self
            .password_notices(
                &policy,
                &target,
                PasswordSet::ByAdmin {
                    by: &by,
                    how,
                    invitation: false,
                },
                now,
            )
            .await?;
        let (tx, _, _) = self.target_tx(actor, "password.reset", target.id).await?;
        settle_in(&tx, actor, target.id, options.settles.as_ref(), now).await?;
        tx.put_credential(new_credential(
            target.id,
            actor.tenant_id,
            hash,
            now,
            expires_at,
            options.require_change,
            options.require_change,
        ))
        .await?;
        tx.trim_history(target.id, u64::from(policy.history_count))
            .await?;
        let revoked_sessions = tx.revoke_user_sessions(target.id, now).await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.reset",
            format!("user:{}", target.id),
            Outcome::Success,
            &[
                ("generated", if generated { "true" } else { "false" }),
                (
                    "require_change",
                    if options.require_change {
                        "true"
                    } else {
                        "false"
                    },
                ),
                ("revoked_sessions", &revoked_sessions.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %target.id, revoked_sessions, "password reset");
        Ok(ResetOutcome {
            generated: generated.then_some(password),
            change_required: options.require_change,
            expires_at,
            revoked_sessions,
            invitation_sent: false,
        })
    }

    /// The invitation flavour of a reset: the old password stops working (it is replaced by
    /// a random one nobody sees), sessions end, and a single-use code goes to the person
    /// through the outbox, in the same transaction.
    pub(super) async fn invite(
        &self,
        actor: &Actor,
        by: &str,
        target: &UserRow,
        policy: &super::policy::PasswordPolicy,
        settles: Option<&Settles>,
    ) -> Result<ResetOutcome, Error> {
        let unusable = self.hasher.hash(&generate_password()).await?;
        let code = generate_password();
        let now = store::now();
        let expires_at = now + chrono::Duration::hours(policy.invitation_hours.into());
        let how = "an invitation to choose a new one";
        let notices = self
            .password_notices(
                policy,
                target,
                PasswordSet::ByAdmin {
                    by,
                    how,
                    invitation: true,
                },
                now,
            )
            .await?;
        let (tx, user, _) = self.target_tx(actor, "password.reset", target.id).await?;
        settle_in(&tx, actor, target.id, settles, now).await?;
        tx.put_credential(new_credential(
            target.id,
            actor.tenant_id,
            unusable,
            now,
            None,
            true,
            false,
        ))
        .await?;
        tx.trim_history(target.id, u64::from(policy.history_count))
            .await?;
        let revoked_sessions = tx.revoke_user_sessions(target.id, now).await?;
        tx.insert_code(store::CodeRow {
            id: Uuid::now_v7(),
            tenant_id: actor.tenant_id,
            user_id: target.id,
            purpose: INVITATION.to_owned(),
            code_hash: self.code_digest(&code),
            created_at: now,
            expires_at,
            attempts: 0,
            max_attempts: i32::try_from(policy.reset_code_attempts).unwrap_or(5),
            used_at: None,
        })
        .await?;
        self.queue(
            &tx,
            super::notices::invitation(&user, &code, expires_at, by),
        )
        .await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.reset",
            format!("user:{}", target.id),
            Outcome::Success,
            &[
                ("delivery", "invitation"),
                ("revoked_sessions", &revoked_sessions.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %target.id, revoked_sessions, "password reset by invitation");
        Ok(ResetOutcome {
            generated: None,
            change_required: true,
            expires_at: Some(expires_at),
            revoked_sessions,
            invitation_sent: true,
        })
    }

    /// Loads a user of the actor's tenant; needs any admin role (every actor has one).
    pub(super) async fn find_user(&self, actor: &Actor, key: UserKey) -> Result<UserRow, Error> {
        let row = match &key {
            UserKey::Id(id) => {
                let id =
                    parse_id("user.id", id).map_err(|v| Error::invalid(&v.field, v.description))?;
                self.store.user_by_id(actor.tenant_id, id).await?
            }
            UserKey::Username(name) => {
                let name = normalise_username("user.username", name)?;
                self.store.user_by_username(actor.tenant_id, &name).await?
            }
        };
        row.ok_or_else(|| Error::NotFound("no such user in this tenant".to_owned()))
    }

    /// A quick check against the roles and units as they are now, so a refused call spends no
    /// hash; [`Gatehouse::target_tx`] repeats it authoritatively. A refusal is audited.
    pub(super) async fn authorize(
        &self,
        actor: &Actor,
        action: &str,
        target: Uuid,
    ) -> Result<authz::Scope, Error> {
        let roles = self.roles_of(actor.tenant_id, target).await?;
        let units = self.units_judged(actor, target).await?;
        self.judge(actor, action, target, &roles, &units).await
    }

    /// Opens the tenant's write transaction, locks the target user and checks, against the
    /// roles and units this transaction sees, that the actor may act on them (the reset
    /// matrix, within the actor's units). A concurrent role or membership change therefore
    /// cannot slip between the check and the change.
    pub(super) async fn target_tx(
        &self,
        actor: &Actor,
        action: &str,
        target: Uuid,
    ) -> Result<(Tx, UserRow, Vec<Role>), Error> {
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let user = tx
            .lock_user(actor.tenant_id, target)
            .await?
            .ok_or_else(|| Error::NotFound("no such user in this tenant".to_owned()))?;
        let roles = roles_from(&tx.roles_of_user(actor.tenant_id, target).await?);
        // Units matter only to a role scoped to one.
        let units = if actor.scoped.is_empty() {
            Vec::new()
        } else {
            tx.units_of_user(actor.tenant_id, target).await?
        };
        let decision = authz::may_touch(
            actor,
            &authz::Target {
                id: target,
                roles: &roles,
                units: &units,
            },
        );
        if let Err(authz::Denial(reason)) = decision {
            // Release the tenant lock before the refusal's own audit transaction needs it.
            drop(tx);
            return Err(self
                .deny(actor, action, format!("user:{target}"), reason)
                .await);
        }
        Ok((tx, user, roles))
    }

    /// The one decision, audited when it refuses.
    pub(super) async fn judge(
        &self,
        actor: &Actor,
        action: &str,
        target: Uuid,
        roles: &[Role],
        units: &[Uuid],
    ) -> Result<authz::Scope, Error> {
        let target_ref = authz::Target {
            id: target,
            roles,
            units,
        };
        match authz::may_touch(actor, &target_ref) {
            Ok(scope) => Ok(scope),
            Err(authz::Denial(reason)) => Err(self
                .deny(actor, action, format!("user:{target}"), reason)
                .await),
        }
    }

    /// Every role a user holds, in any scope, sorted.
    pub(super) async fn roles_of(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> Result<Vec<Role>, Error> {
        Ok(roles_from(
            &self.store.roles_of_users(tenant_id, &[user_id]).await?,
        ))
    }

    /// The target's units as [`authz::may_touch`] needs them for this actor: none to read
    /// when the actor holds no role scoped to a unit (the decision never looks at them then).
    pub(super) async fn units_judged(
        &self,
        actor: &Actor,
        user_id: Uuid,
    ) -> Result<Vec<Uuid>, Error> {
        if actor.scoped.is_empty() {
            return Ok(Vec::new());
        }
        self.units_of(actor.tenant_id, user_id).await
    }

    /// The units a user is a member of.
    pub(super) async fn units_of(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> Result<Vec<Uuid>, Error> {
        Ok(self
            .store
            .units_of_users(tenant_id, &[user_id])
            .await?
            .into_iter()
            .map(|m| m.unit_id)
            .collect())
    }

    pub(super) async fn to_user(&self, row: UserRow) -> Result<User, Error> {
        let tenant_id = row.tenant_id;
        Ok(self.to_users(tenant_id, vec![row]).await?.remove(0))
    }

    async fn to_users(&self, tenant_id: Uuid, rows: Vec<UserRow>) -> Result<Vec<User>, Error> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut roles: HashMap<Uuid, Vec<Role>> = HashMap::new();
        for row in self.store.roles_of_users(tenant_id, &ids).await? {
            if let (Some(user), Some(role)) = (row.user_id, Role::parse(&row.role)) {
                roles.entry(user).or_default().push(role);
            }
        }
        // A role held over two units is one role of the user.
        for held in roles.values_mut() {
            held.sort_unstable();
            held.dedup();
        }
        let credentials: HashMap<Uuid, CredentialRow> = self
            .store
            .credentials(&ids)
            .await?
            .into_iter()
            .map(|c| (c.user_id, c))
            .collect();
        let confirmations = self.store.confirmations_by_user(&ids).await?;
        let policy = self.policy(tenant_id).await?;
        let now = store::now();
        rows.into_iter()
            .map(|row| {
                let user_roles = roles.remove(&row.id).unwrap_or_default();
                let credential = credentials.get(&row.id);
                let times = confirmations.get(&row.id).map_or(&[][..], Vec::as_slice);
                let registration = Registration::judge(&policy, &row, times, now);
                user_view(row, user_roles, credential, &registration)
            })
            .collect()
    }
}

/// A user as an administrator sees them: the row, its roles (sorted) and what the credential
/// tells (change required, set when, locked until) and whether they registered security info.
fn user_view(
    row: UserRow,
    roles: Vec<Role>,
    credential: Option<&CredentialRow>,
    registration: &Registration,
) -> Result<User, Error> {
    Ok(User {
        id: row.id,
        tenant_id: row.tenant_id,
        state: UserState::parse(&row.state)
            .ok_or_else(|| corrupt(format!("user state {}", row.state)))?,
        username: row.username,
        display_name: row.display_name,
        contact_email: row.contact_email,
        roles,
        password_change_required: credential.is_some_and(|c| c.must_change),
        password_set_at: credential.map(|c| c.set_at),
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        password_never_expires: row.password_never_expires,
        locked_until: credential
            .and_then(|c| c.locked_until)
            .filter(|until| *until > store::now()),
        registration: registration.state,
        confirmed_methods: registration.confirmed,
    })
}

/// What a reset settles in the same transaction.
#[derive(Clone, Debug)]
pub enum Settles {
    /// Completes an open "contact an administrator" request.
    Request {
        /// The request.
        id: Uuid,
        /// The resolver's note.
        comment: String,
    },
    /// Settles a pending bulk job item.
    BulkItem {
        /// The job.
        job_id: Uuid,
        /// The item.
        index: i32,
    },
}

/// Settles what the reset is for inside the reset's transaction; if it was settled already
/// (a request no longer open, an item done by another call) the reset is refused with
/// FAILED_PRECONDITION and its transaction rolls back.
async fn settle_in(
    tx: &Tx,
    actor: &Actor,
    user_id: Uuid,
    settles: Option<&Settles>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let settled = match settles {
        None => return Ok(()),
        Some(Settles::Request { id, comment }) => {
            tx.resolve_request(*id, "completed", &actor.principal.to_string(), comment, now)
                .await?
        }
        Some(Settles::BulkItem { job_id, index }) => {
            tx.settle_item(*job_id, *index, Some(user_id), "reset", "", now)
                .await?
        }
    };
    if settled {
        Ok(())
    } else {
        Err(Error::FailedPrecondition(
            "already settled by another call".to_owned(),
        ))
    }
}

fn stale(current: i64, sent: i64) -> Error {
    Error::Aborted(format!(
        "the user changed since version {sent} was read (now at {current} or later); read it again and retry"
    ))
}

fn collect<T>(violations: &mut Vec<FieldViolation>, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(Error::InvalidArgument {
            violations: found, ..
        }) => {
            violations.extend(found);
            None
        }
        Err(_) => None,
    }
}

pub(super) fn parse_id(field: &str, id: &str) -> Result<Uuid, FieldViolation> {
    if id.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    Uuid::parse_str(id)
        .map_err(|_| FieldViolation::new(field, "not a valid id (a UUID such as 0192…)"))
}

fn has_control_or_space(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Validates an e-mail-like username and returns it in lower case.
pub(crate) fn normalise_username(field: &str, username: &str) -> Result<String, Error> {
    let length = username.chars().count();
    if length == 0 {
        return Err(Error::invalid(field, "required"));
    }
    if !(3..=254).contains(&length) {
        return Err(Error::invalid(field, "must be 3 to 254 characters"));
    }
    if has_control_or_space(username) {
        return Err(Error::invalid(
            field,
            "must not contain spaces or control characters",
        ));
    }
    match username.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(username.to_lowercase())
        }
        _ => Err(Error::invalid(field, "must look like name@domain")),
    }
}

fn check_display_name(field: &str, name: &str) -> Result<String, Error> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "required"));
    }
    if trimmed.chars().count() > 256 {
        return Err(Error::invalid(field, "must be at most 256 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

fn check_contact_email(field: &str, email: &str) -> Result<String, Error> {
    if email.is_empty() {
        return Ok(String::new());
    }
    normalise_username(field, email)
}

pub(crate) fn page_size_or_default(page_size: i32) -> Result<u32, Error> {
    match page_size {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(Error::invalid("page_size", "must not be negative")),
        n => Ok(u32::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens are opaque to callers: base64url of `scope|key`. The scope binds a token to
/// the listing and filter it came from.
/// What a page token is sealed for (see [`Gatehouse::page_token`]).
const PAGE_TOKENS: &str = "page tokens";

impl Gatehouse {
    /// An opaque token for the page after `key` of a listing: `key` sealed under the
    /// server's key (AES-256-GCM), bound to the tenant and to `scope` (the listing and its
    /// filter). It shows nothing it points at, and an edited, hand-made or borrowed token
    /// (another tenant's, listing's or filter's) does not open.
    pub(crate) fn page_token(
        &self,
        tenant_id: Uuid,
        scope: &str,
        key: &str,
    ) -> Result<String, Error> {
        self.settings
            .secret_key
            .seal(PAGE_TOKENS, &page_context(tenant_id, scope), key)
    }

    /// The key a page token made by [`Gatehouse::page_token`] for this tenant and scope points
    /// after; `None` for an empty token (the first page). Anything else is INVALID_ARGUMENT.
    pub(crate) fn page_after(
        &self,
        tenant_id: Uuid,
        scope: &str,
        token: &str,
    ) -> Result<Option<String>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let malformed = || {
            Error::invalid(
                "page_token",
                "not a token from this listing and filter; start again with an empty page_token",
            )
        };
        if token.len() > MAX_PAGE_TOKEN {
            return Err(malformed());
        }
        match self
            .settings
            .secret_key
            .open(PAGE_TOKENS, &page_context(tenant_id, scope), token)
        {
            Ok(key) if !key.is_empty() => Ok(Some(key)),
            _ => Err(malformed()),
        }
    }

    /// [`Gatehouse::page_after`], parsed as the listing's key type.
    pub(crate) fn page_after_parsed<T: std::str::FromStr>(
        &self,
        tenant_id: Uuid,
        scope: &str,
        token: &str,
    ) -> Result<Option<T>, Error> {
        self.page_after(tenant_id, scope, token)?
            .map(|key| key.parse::<T>())
            .transpose()
            .map_err(|_| Error::invalid("page_token", "not a token from this listing"))
    }
}

/// The longest page token this server makes (with room to spare).
const MAX_PAGE_TOKEN: usize = 2048;

fn page_context(tenant_id: Uuid, scope: &str) -> Vec<u8> {
    let mut context = tenant_id.as_bytes().to_vec();
    context.extend_from_slice(scope.as_bytes());
    context
}

/// The distinct roles of assignment rows (a role held over several units counts once), sorted.
pub(super) fn roles_from(rows: &[crate::store::RoleRow]) -> Vec<Role> {
    let mut roles: Vec<Role> = rows.iter().filter_map(|r| Role::parse(&r.role)).collect();
    roles.sort_unstable();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_validated_and_lowered() {
        assert_eq!(
            normalise_username("u", "Alice@Contoso.Example")
                .ok()
                .as_deref(),
            Some("alice@contoso.example")
        );
        for bad in [
            "",
            "ab",
            "no-at-sign",
            "@x",
            "x@",
            "a b@c",
            "a@b@c",
            &"x".repeat(300),
        ] {
            assert!(
                normalise_username("u", bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn page_sizes_are_capped() {
        assert_eq!(page_size_or_default(0).ok(), Some(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size_or_default(10_000).ok(), Some(MAX_PAGE_SIZE));
        assert!(page_size_or_default(-1).is_err());
    }
}
