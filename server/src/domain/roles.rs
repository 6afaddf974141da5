//! Role assignments.

use std::collections::HashMap;

use uuid::Uuid;

use super::audit::{self, Outcome};
use super::error::Error;
use super::service::{Gatehouse, corrupt};
use super::types::{Actor, Principal, Role, RoleAssignment, UnitRef};
use super::units::{no_such_unit, parse_unit_id};
use super::users::{UserKey, page_size_or_default};
use crate::store::{self, RoleFilter, RoleRow, StoreError};

/// A page of role assignments.
#[derive(Clone, Debug)]
pub struct RolePage {
    /// Oldest first.
    pub assignments: Vec<RoleAssignment>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
}

impl Gatehouse {
    /// Gives a principal a role, across the tenant or (`unit`, a unit id) over one
    /// administrative unit's members; only `user_admin` and `password_admin` may be scoped.
    pub async fn assign_role(
        &self,
        actor: &Actor,
        principal: Principal,
        role: Role,
        unit: Option<&str>,
    ) -> Result<RoleAssignment, Error> {
        self.require(actor, "role.assign", &[Role::GlobalAdmin])
            .await?;
        let unit_id = unit.map(|id| parse_unit_id("unit_id", id)).transpose()?;
        if unit_id.is_some() && !matches!(role, Role::UserAdmin | Role::PasswordAdmin) {
            return Err(Error::invalid(
                "unit_id",
                format!(
                    "only user_admin and password_admin can be scoped to an administrative unit; {role} applies to the whole tenant"
                ),
            ));
        }
        let principal = self.check_principal(actor, principal).await?;
        let (user_id, service) = split(&principal);
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let unit = match unit_id {
            Some(id) => Some(
                tx.lock_unit(actor.tenant_id, id)
                    .await?
                    .ok_or_else(no_such_unit)?,
            ),
            None => None,
        };
        let row = tx
            .insert_role(RoleRow {
                id: Uuid::now_v7(),
                tenant_id: actor.tenant_id,
                user_id,
                service,
                role: role.as_str().to_owned(),
                unit_id,
                created_at: store::now(),
            })
            .await
            .map_err(|e| match (e, &unit) {
                (StoreError::Conflict(_), Some(unit)) => Error::AlreadyExists(format!(
                    "the principal already holds this role over the unit {}",
                    unit.name
                )),
                (e, _) => e.into(),
            })?;
        let unit_text = unit_id.map(|u| u.to_string()).unwrap_or_default();
        let mut details = vec![("role", role.as_str())];
        if unit.is_some() {
            details.push(("unit", unit_text.as_str()));
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "role.assign",
            principal.to_string(),
            Outcome::Success,
            &details,
        ))
        .await?;
        tx.commit().await?;
        to_assignment(
            row,
            unit.map(|u| UnitRef {
                id: u.id,
                name: u.name,
            }),
        )
    }

    /// Takes a role from a principal; never the tenant's last global admin.
    pub async fn revoke_role(
        &self,
        actor: &Actor,
        principal: Principal,
        role: Role,
        unit: Option<&str>,
    ) -> Result<(), Error> {
        self.require(actor, "role.revoke", &[Role::GlobalAdmin])
            .await?;
        let unit_id = unit.map(|id| parse_unit_id("unit_id", id)).transpose()?;
        let principal = self.check_principal(actor, principal).await?;
        let (user_id, service) = split(&principal);
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        if !tx
            .delete_role(
                actor.tenant_id,
                user_id,
                service.as_deref(),
                role.as_str(),
                unit_id,
            )
            .await?
        {
            return Err(Error::NotFound(match unit_id {
                None => format!("{principal} does not hold the role {role} across the tenant"),
                Some(unit) => format!("{principal} does not hold the role {role} over unit {unit}"),
            }));
        }
        // Counted after the delete, inside the transaction: returning drops (rolls back) it.
        if role == Role::GlobalAdmin
            && user_id.is_some()
            && tx
                .count_users_with_role(actor.tenant_id, role.as_str())
                .await?
                == 0
        {
            return Err(Error::FailedPrecondition(
                "this would leave the tenant without a global admin; assign the role to someone else first".to_owned(),
            ));
        }
        let unit_text = unit_id.map(|u| u.to_string()).unwrap_or_default();
        let mut details = vec![("role", role.as_str())];
        if unit_id.is_some() {
            details.push(("unit", unit_text.as_str()));
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "role.revoke",
            principal.to_string(),
            Outcome::Success,
            &details,
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of the tenant's role assignments.
    pub async fn list_roles(
        &self,
        actor: &Actor,
        principal: Option<Principal>,
        role: Option<Role>,
        unit: Option<&str>,
        page_size: i32,
        page_token: &str,
    ) -> Result<RolePage, Error> {
        let limit = page_size_or_default(page_size)?;
        let unit_id = unit.map(|id| parse_unit_id("unit_id", id)).transpose()?;
        let scope = format!(
            "roles:{}:{}:{}",
            principal
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            role.map_or("", |r| r.as_str()),
            unit_id.map(|u| u.to_string()).unwrap_or_default()
        );
        let after = self.page_after_parsed::<Uuid>(actor.tenant_id, &scope, page_token)?;
        let (user_id, service) = principal.as_ref().map(split).unwrap_or_default();
        let filter = RoleFilter {
            user_id,
            service,
            role: role.map(|r| r.as_str().to_owned()),
            unit_id,
            after,
        };
        let mut rows = self
            .store
            .list_roles(actor.tenant_id, &filter, u64::from(limit) + 1)
            .await?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| self.page_token(actor.tenant_id, &scope, &r.id.to_string()))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        let unit_ids: Vec<Uuid> = rows.iter().filter_map(|r| r.unit_id).collect();
        let names: HashMap<Uuid, String> = self
            .store
            .units(actor.tenant_id, &unit_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
        Ok(RolePage {
            assignments: rows
                .into_iter()
                .map(|row| {
                    let unit = row.unit_id.map(|id| UnitRef {
                        id,
                        name: names.get(&id).cloned().unwrap_or_default(),
                    });
                    to_assignment(row, unit)
                })
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }

    /// A user principal must be a user of the tenant; a service name must be non-empty.
    async fn check_principal(
        &self,
        actor: &Actor,
        principal: Principal,
    ) -> Result<Principal, Error> {
        match principal {
            Principal::User(id) => {
                let user = self.find_user(actor, UserKey::Id(id.to_string())).await?;
                Ok(Principal::User(user.id))
            }
            Principal::Service(name) => {
                let name = name.trim();
                if name.is_empty() || name.len() > 512 {
                    return Err(Error::invalid(
                        "principal.service",
                        "must be 1 to 512 characters",
                    ));
                }
                Ok(Principal::Service(name.to_owned()))
            }
        }
    }
}

fn split(principal: &Principal) -> (Option<Uuid>, Option<String>) {
    match principal {
        Principal::User(id) => (Some(*id), None),
        Principal::Service(name) => (None, Some(name.clone())),
    }
}

fn to_assignment(row: RoleRow, unit: Option<UnitRef>) -> Result<RoleAssignment, Error> {
    let principal = match (row.user_id, row.service) {
        (Some(id), _) => Principal::User(id),
        (None, Some(name)) => Principal::Service(name),
        (None, None) => {
            return Err(corrupt(format!(
                "role assignment {} has no principal",
                row.id
            )));
        }
    };
    Ok(RoleAssignment {
        id: row.id,
        tenant_id: row.tenant_id,
        principal,
        role: Role::parse(&row.role).ok_or_else(|| corrupt(format!("role {}", row.role)))?,
        unit,
        created_at: row.created_at,
    })
}
