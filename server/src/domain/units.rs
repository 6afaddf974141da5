//! Administrative units: named sets of users over which a `user_admin` or `password_admin`
//! role may be scoped. Tenant-wide global and user admins manage them; any admin reads the
//! list of units, and the members of a unit are read by tenant-wide admins and by those whose
//! role is scoped to it. Units do not nest; a user may be in several.

use uuid::Uuid;

use super::accounts::parse_ids;
use super::audit::{self, Outcome};
use super::error::{Error, FieldViolation};
use super::service::Gatehouse;
use super::types::{Actor, AdministrativeUnit, Role, UnitRef};
use super::users::{UserPage, page_size_or_default, parse_id};
use crate::store::{self, UnitRow};

const MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];

/// A page of units.
#[derive(Clone, Debug)]
pub struct UnitPage {
    /// By name, case-insensitively.
    pub units: Vec<AdministrativeUnit>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
}

/// What a membership change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MembershipChange {
    /// Users whose membership changed.
    pub changed: u64,
    /// Users named that were already as asked (members already, or not members).
    pub unchanged: u64,
}

impl Gatehouse {
    /// Creates a unit.
    pub async fn create_unit(
        &self,
        actor: &Actor,
        name: &str,
        description: &str,
    ) -> Result<AdministrativeUnit, Error> {
        self.require_tenant_wide(actor, "unit.create", MANAGERS)
            .await?;
        let mut violations = Vec::new();
        let name = check_name("name", name)
            .map_err(|v| violations.push(v))
            .ok();
        let description = check_description("description", description)
            .map_err(|v| violations.push(v))
            .ok();
        Error::from_violations(violations)?;
        let (name, description) = (name.unwrap_or_default(), description.unwrap_or_default());
        let now = store::now();
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let row = tx
            .insert_unit(UnitRow {
                id: Uuid::now_v7(),
                tenant_id: actor.tenant_id,
                name_key: name.to_lowercase(),
                name: name.clone(),
                description,
                version: 1,
                created_at: now,
                updated_at: now,
            })
            .await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "unit.create",
            format!("unit:{}", row.id),
            Outcome::Success,
            &[("name", &name)],
        ))
        .await?;
        tx.commit().await?;
        Ok(to_unit(row))
    }

    /// Renames a unit or changes its description if it is still at `version`.
    pub async fn update_unit(
        &self,
        actor: &Actor,
        id: &str,
        version: i64,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<AdministrativeUnit, Error> {
        self.require_tenant_wide(actor, "unit.update", MANAGERS)
            .await?;
        let mut violations = Vec::new();
        let id = parse_id("unit_id", id).map_err(|v| violations.push(v)).ok();
        if version <= 0 {
            violations.push(FieldViolation::new(
                "version",
                "send the version of the unit you read (ListAdministrativeUnits)",
            ));
        }
        let name = name
            .map(|n| check_name("name", n))
            .transpose()
            .map_err(|v| violations.push(v))
            .ok()
            .flatten();
        let description = description
            .map(|d| check_description("description", d))
            .transpose()
            .map_err(|v| violations.push(v))
            .ok()
            .flatten();
        Error::from_violations(violations)?;
        let id = id.unwrap_or_default();
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let mut row = tx
            .lock_unit(actor.tenant_id, id)
            .await?
            .ok_or_else(no_such_unit)?;
        if row.version != version {
            return Err(Error::Aborted(format!(
                "the unit changed since you read it (now at version {}); read it again and retry",
                row.version
            )));
        }
        let mut changed = Vec::new();
        if let Some(name) = name.filter(|n| *n != row.name) {
            row.name_key = name.to_lowercase();
            row.name = name;
            changed.push("name");
        }
        if let Some(description) = description.filter(|d| *d != row.description) {
            row.description = description;
            changed.push("description");
        }
        if changed.is_empty() {
            return Ok(to_unit(row));
        }
        row.version += 1;
        row.updated_at = store::now();
        tx.update_unit(&row).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "unit.update",
            format!("unit:{id}"),
            Outcome::Success,
            &[("changed", &changed.join(","))],
        ))
        .await?;
        tx.commit().await?;
        Ok(to_unit(row))
    }

    /// Deletes a unit with its memberships and the role assignments scoped to it (which no
    /// longer reach anyone); returns how many assignments went.
    pub async fn delete_unit(&self, actor: &Actor, id: &str) -> Result<u64, Error> {
        self.require_tenant_wide(actor, "unit.delete", MANAGERS)
            .await?;
        let id = parse_unit_id("unit_id", id)?;
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let unit = tx
            .lock_unit(actor.tenant_id, id)
            .await?
            .ok_or_else(no_such_unit)?;
        let assignments = tx.delete_unit(actor.tenant_id, id).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "unit.delete",
            format!("unit:{id}"),
            Outcome::Success,
            &[
                ("name", &unit.name),
                ("revoked_assignments", &assignments.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(assignments)
    }

    /// A page of the tenant's units, by name. Any admin role.
    pub async fn list_units(
        &self,
        actor: &Actor,
        page_size: i32,
        page_token: &str,
    ) -> Result<UnitPage, Error> {
        let limit = page_size_or_default(page_size)?;
        let after = self.page_after(actor.tenant_id, "units", page_token)?;
        let mut rows = self
            .store
            .list_units(actor.tenant_id, after.as_deref(), u64::from(limit) + 1)
            .await?;
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|last| self.page_token(actor.tenant_id, "units", &last.name_key))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(UnitPage {
            units: rows.into_iter().map(to_unit).collect(),
            next_page_token,
        })
    }

    /// Makes users members of a unit; all of them exist or nothing changes.
    pub async fn add_unit_members(
        &self,
        actor: &Actor,
        unit: &str,
        user_ids: &[String],
    ) -> Result<MembershipChange, Error> {
        self.change_members(actor, unit, user_ids, true).await
    }

    /// Takes users out of a unit; naming a non-member is not an error.
    pub async fn remove_unit_members(
        &self,
        actor: &Actor,
        unit: &str,
        user_ids: &[String],
    ) -> Result<MembershipChange, Error> {
        self.change_members(actor, unit, user_ids, false).await
    }

    async fn change_members(
        &self,
        actor: &Actor,
        unit: &str,
        user_ids: &[String],
        add: bool,
    ) -> Result<MembershipChange, Error> {
        let action = if add {
            "unit.add_members"
        } else {
            "unit.remove_members"
        };
        self.require_tenant_wide(actor, action, MANAGERS).await?;
        let unit_id = parse_unit_id("unit_id", unit);
        if user_ids.is_empty() {
            return Err(Error::invalid("user_ids", "name at least one user"));
        }
        let (unit_id, ids) = (unit_id?, parse_ids(user_ids)?);
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        tx.lock_unit(actor.tenant_id, unit_id)
            .await?
            .ok_or_else(no_such_unit)?;
        let members = tx.members_among(unit_id, &ids).await?;
        let changed = if add {
            let existing = tx.existing_users(actor.tenant_id, &ids).await?;
            let unknown: Vec<String> = ids
                .iter()
                .filter(|id| !existing.contains(id))
                .map(Uuid::to_string)
                .collect();
            if !unknown.is_empty() {
                let shown = unknown
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = unknown.len().saturating_sub(5);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                return Err(Error::NotFound(format!(
                    "no such users in this tenant: {shown}{more}; nobody was added"
                )));
            }
            let new: Vec<Uuid> = ids
                .iter()
                .copied()
                .filter(|id| !members.contains(id))
                .collect();
            tx.insert_members(actor.tenant_id, unit_id, &new, store::now())
                .await?;
            new.len() as u64
        } else {
            tx.delete_members(unit_id, &members).await?
        };
        let unchanged = ids.len() as u64 - changed;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            action,
            format!("unit:{unit_id}"),
            Outcome::Success,
            &[
                ("changed", &changed.to_string()),
                ("unchanged", &unchanged.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(MembershipChange { changed, unchanged })
    }

    /// A page of a unit's members, by username: for tenant-wide admins and those whose role is
    /// scoped to the unit.
    pub async fn list_unit_members(
        &self,
        actor: &Actor,
        unit: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<UserPage, Error> {
        self.list_users(actor, None, Some(unit), None, page_size, page_token)
            .await
    }

    /// The unit named by `id`, when the actor may read its members: a tenant-wide admin reads
    /// every unit, a scoped admin only the units of their roles (a refusal is audited).
    pub(super) async fn readable_unit(
        &self,
        actor: &Actor,
        id: &str,
        action: &str,
    ) -> Result<Uuid, Error> {
        let id = parse_unit_id("unit_id", id)?;
        self.store
            .unit(actor.tenant_id, id)
            .await?
            .ok_or_else(no_such_unit)?;
        if actor.roles.is_empty() && !actor.units().contains(&id) {
            let reason =
                "you hold no role over this administrative unit, so you may not list its members";
            return Err(self
                .deny(actor, action, format!("unit:{id}"), reason.to_owned())
                .await);
        }
        Ok(id)
    }

    /// A unit by id with its name (empty when it is gone).
    pub(super) async fn unit_ref(&self, tenant_id: Uuid, id: Uuid) -> Result<UnitRef, Error> {
        let name = self
            .store
            .unit(tenant_id, id)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok(UnitRef { id, name })
    }
}

/// A unit id from a request.
pub(super) fn parse_unit_id(field: &str, id: &str) -> Result<Uuid, Error> {
    parse_id(field, id).map_err(|v| Error::invalid(&v.field, v.description))
}

pub(super) fn no_such_unit() -> Error {
    Error::NotFound("no such administrative unit in this tenant".to_owned())
}

fn check_name(field: &str, name: &str) -> Result<String, FieldViolation> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    if trimmed.chars().count() > 128 {
        return Err(FieldViolation::new(field, "must be at most 128 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn check_description(field: &str, description: &str) -> Result<String, FieldViolation> {
    let trimmed = description.trim();
    if trimmed.chars().count() > 1024 {
        return Err(FieldViolation::new(
            field,
            "must be at most 1024 characters",
        ));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters other than line breaks",
        ));
    }
    Ok(trimmed.to_owned())
}

fn to_unit(row: UnitRow) -> AdministrativeUnit {
    AdministrativeUnit {
        id: row.id,
        tenant_id: row.tenant_id,
        name: row.name,
        description: row.description,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
