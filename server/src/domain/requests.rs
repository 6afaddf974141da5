//! "Contact an administrator": a person who cannot reset their password asks for help; the
//! administrators allowed to reset them are told, list the requests and resolve them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::authz;
use super::error::Error;
use super::secret::Password;
use super::service::Gatehouse;
use super::types::{Actor, Caller, Principal, Role};
use super::users::{ResetOptions, Settles, UserKey, page_size_or_default};
use crate::store::{self, NewMessage, Reach, RequestRow, UserRow, UserScope};

/// Longest note a person or an administrator may write.
const MAX_NOTE: usize = 1000;
/// Asking again while a request is open notifies the administrators at most this often.
const RENOTIFY_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// The state of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting.
    Open,
    /// Resolved with a reset or an invitation.
    Completed,
    /// Closed without a reset.
    Dismissed,
}

impl RequestState {
    fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => store::OPEN,
            RequestState::Completed => "completed",
            RequestState::Dismissed => "dismissed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(RequestState::Open),
            "completed" => Some(RequestState::Completed),
            "dismissed" => Some(RequestState::Dismissed),
            _ => None,
        }
    }
}

/// A request as administrators see it.
#[derive(Clone, Debug)]
pub struct HelpRequest {
    /// Its id.
    pub id: Uuid,
    /// The person.
    pub user_id: Uuid,
    /// Their username.
    pub username: String,
    /// Their latest note.
    pub message: String,
    /// Its state.
    pub state: RequestState,
    /// How often they asked.
    pub times_asked: i32,
    /// First asked.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// The resolver's note.
    pub comment: String,
}

/// How to resolve a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A generated temporary password, shown once.
    TemporaryPassword,
    /// An emailed invitation code.
    SendInvitation,
    /// No reset.
    Dismiss,
}

/// The outcome of [`Gatehouse::resolve_request`].
#[derive(Debug)]
pub struct Resolved {
    /// The request afterwards.
    pub request: HelpRequest,
    /// The temporary password, to show once.
    pub generated: Option<Password>,
    /// An invitation was queued.
    pub invitation_sent: bool,
}

impl Gatehouse {
    /// Stores (or refreshes) the person's open request and tells the administrators who may
    /// reset them. The answer does not depend on whether the account exists, and comes no
    /// sooner than [`super::service::ANONYMOUS_FLOOR`] after the call began.
    pub async fn request_admin_help(
        &self,
        caller: &Caller,
        username: &str,
        message: &str,
        tenant: &str,
    ) -> Result<(), Error> {
        super::service::at_floor(self.request_admin_help_now(caller, username, message, tenant))
            .await
    }

    async fn request_admin_help_now(
        &self,
        caller: &Caller,
        username: &str,
        message: &str,
        tenant: &str,
    ) -> Result<(), Error> {
        if username.trim().is_empty() {
            return Err(Error::invalid("username", "required"));
        }
        if message.chars().count() > MAX_NOTE {
            return Err(Error::invalid(
                "message",
                format!("at most {MAX_NOTE} characters"),
            ));
        }
        let username = username.trim().to_lowercase();
        let Some(tenant) = self.tenant_for_sign_in(tenant, &username).await? else {
            return Ok(());
        };
        let Some(user) = self.store.user_by_username(tenant.id, &username).await? else {
            return Ok(());
        };
        let admins = self.helpers_of(&user).await?;
        let now = store::now();
        let tx = self.store.write_tenant(user.tenant_id).await?;
        let (request_id, notify) = match tx.open_request(user.id).await? {
            Some(open) => {
                let notify = now - open.last_notified_at >= RENOTIFY_AFTER;
                tx.ask_again(open.id, message, now, notify).await?;
                (open.id, notify)
            }
            None => {
                let id = Uuid::now_v7();
                tx.insert_request(RequestRow {
                    id,
                    tenant_id: user.tenant_id,
                    user_id: user.id,
                    message: message.to_owned(),
                    state: store::OPEN.to_owned(),
                    times_asked: 1,
                    created_at: now,
                    updated_at: now,
                    last_notified_at: now,
                    resolved_by: None,
                    comment: String::new(),
                })
                .await?;
                (id, true)
            }
        };
        if notify {
            for admin in &admins {
                self.queue(&tx, help_wanted(admin, &user, message, request_id))
                    .await?;
            }
        }
        tx.append_audit(audit::event(
            user.tenant_id,
            "anonymous".to_owned(),
            caller.service.clone(),
            "reset_request.ask",
            format!("user:{}", user.id),
            Outcome::Success,
            &[
                ("request", &request_id.to_string()),
                (
                    "notified_admins",
                    &if notify { admins.len() } else { 0 }.to_string(),
                ),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Requests of users the actor may reset (auditors see all), newest first.
    pub async fn list_requests(
        &self,
        actor: &Actor,
        state: Option<RequestState>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<HelpRequest>, String), Error> {
        self.require(
            actor,
            "reset_request.read",
            &[
                Role::GlobalAdmin,
                Role::UserAdmin,
                Role::PasswordAdmin,
                Role::Auditor,
            ],
        )
        .await?;
        let limit = page_size_or_default(page_size)?;
        let scope_key = format!("requests:{}", state.map_or("", |s| s.as_str()));
        let before = self.page_after_parsed::<Uuid>(actor.tenant_id, &scope_key, page_token)?;
        let resets = actor.has_any(&[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin]);
        let scope = UserScope {
            tenant_id: actor.tenant_id,
            user_ids: None,
            // Auditors read every request; an admin who resets reads those of users they may
            // reset, within their units when their roles are scoped.
            reach: if actor.has_tenant_wide(&[Role::Auditor]) {
                vec![Reach::everyone()]
            } else {
                authz::reach(actor)
            },
            except: match (&actor.principal, resets) {
                (Principal::User(id), true) => Some(*id),
                _ => None,
            },
        };
        let mut rows = self
            .store
            .list_requests(
                &scope,
                state.map(RequestState::as_str),
                before,
                u64::from(limit) + 1,
            )
            .await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| self.page_token(actor.tenant_id, &scope_key, &r.id.to_string()))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
        let mut names: HashMap<Uuid, String> = HashMap::new();
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id)
                && let Some(user) = self.store.user_by_id(actor.tenant_id, id).await?
            {
                slot.insert(user.username);
            }
        }
        let requests = rows
            .into_iter()
            .map(|r| {
                let username = names.get(&r.user_id).cloned().unwrap_or_default();
                to_request(r, username)
            })
            .collect::<Result<_, _>>()?;
        Ok((requests, next))
    }

    /// Resolves an open request; a reset and the resolution commit together.
    pub async fn resolve_request(
        &self,
        actor: &Actor,
        request_id: &str,
        resolution: Resolution,
        comment: &str,
    ) -> Result<Resolved, Error> {
        self.require(
            actor,
            "reset_request.resolve",
            &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin],
        )
        .await?;
        if comment.chars().count() > MAX_NOTE {
            return Err(Error::invalid(
                "comment",
                format!("at most {MAX_NOTE} characters"),
            ));
        }
        let id = Uuid::parse_str(request_id)
            .map_err(|_| Error::invalid("request_id", "not a valid id"))?;
        let request = self
            .store
            .request(actor.tenant_id, id)
            .await?
            .ok_or_else(|| Error::NotFound("no such request in this tenant".to_owned()))?;
        if request.state != store::OPEN {
            return Err(not_open(&request.state));
        }
        let (generated, invitation_sent) = match resolution {
            Resolution::Dismiss => {
                let (tx, _, _) = self
                    .target_tx(actor, "reset_request.resolve", request.user_id)
                    .await?;
                if !tx
                    .resolve_request(
                        id,
                        "dismissed",
                        &actor.principal.to_string(),
                        comment,
                        store::now(),
                    )
                    .await?
                {
                    return Err(not_open("resolved"));
                }
                tx.append_audit(audit::event(
                    actor.tenant_id,
                    actor.principal.to_string(),
                    actor.service.clone(),
                    "reset_request.dismiss",
                    format!("user:{}", request.user_id),
                    Outcome::Success,
                    &[("request", &id.to_string())],
                ))
                .await?;
                tx.commit().await?;
                (None, false)
            }
            Resolution::TemporaryPassword | Resolution::SendInvitation => {
                let outcome = self
                    .reset_password(
                        actor,
                        UserKey::Id(request.user_id.to_string()),
                        ResetOptions {
                            password: None,
                            require_change: true,
                            invite: resolution == Resolution::SendInvitation,
                            settles: Some(Settles::Request {
                                id,
                                comment: comment.to_owned(),
                            }),
                        },
                    )
                    .await?;
                (outcome.generated, outcome.invitation_sent)
            }
        };
        let request = self
            .store
            .request(actor.tenant_id, id)
            .await?
            .ok_or_else(|| Error::NotFound("no such request in this tenant".to_owned()))?;
        let username = self
            .store
            .user_by_id(actor.tenant_id, request.user_id)
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        Ok(Resolved {
            request: to_request(request, username)?,
            generated,
            invitation_sent,
        })
    }

    /// Who is told of a person's request: the admins whose role is scoped to one of the
    /// person's units (password admins, else user admins), or else tenant-wide password
    /// admins, user admins, global admins in that order — the first tier that may reset the
    /// person and has someone active; never the person themselves.
    async fn helpers_of(&self, user: &UserRow) -> Result<Vec<UserRow>, Error> {
        let target_roles = self.roles_of(user.tenant_id, user.id).await?;
        let units = self.units_of(user.tenant_id, user.id).await?;
        let tiers = [
            (Role::PasswordAdmin, true),
            (Role::UserAdmin, true),
            (Role::PasswordAdmin, false),
            (Role::UserAdmin, false),
            (Role::GlobalAdmin, false),
        ];
        for (tier, scoped) in tiers {
            if authz::may_reset(&[tier], &target_roles, false).is_err()
                || (scoped && units.is_empty())
            {
                continue;
            }
            let holders = if scoped {
                self.store
                    .users_with_role_in_units(user.tenant_id, tier.as_str(), &units)
                    .await?
            } else {
                self.store
                    .users_with_role(user.tenant_id, tier.as_str())
                    .await?
            };
            let admins: Vec<UserRow> = holders
                .into_iter()
                .filter(|admin| {
                    admin.id != user.id && admin.state == super::types::UserState::Active.as_str()
                })
                .collect();
            if !admins.is_empty() {
                return Ok(admins);
            }
        }
        Ok(Vec::new())
    }
}

fn not_open(state: &str) -> Error {
    Error::FailedPrecondition(format!("the request is no longer open (it is {state})"))
}

fn to_request(row: RequestRow, username: String) -> Result<HelpRequest, Error> {
    Ok(HelpRequest {
        id: row.id,
        user_id: row.user_id,
        username,
        message: row.message,
        state: RequestState::parse(&row.state)
            .ok_or_else(|| super::service::corrupt(format!("request state {}", row.state)))?,
        times_asked: row.times_asked,
        created_at: row.created_at,
        updated_at: row.updated_at,
        resolved_by: row.resolved_by,
        comment: row.comment,
    })
}

fn help_wanted(admin: &UserRow, user: &UserRow, note: &str, request_id: Uuid) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: super::notices::recipient(admin),
        subject: format!("{} asks for help with their password", user.display_name),
        body: format!(
            "Hello {admin},\n\n{name} ({username}) cannot reset their password and asks an administrator for help.\n\
             Their note: {note}\n\nResolve request {request_id} with ResolveResetRequest (reset, invitation or dismiss).\n",
            admin = admin.display_name,
            name = user.display_name,
            username = user.username,
        ),
    }
}
