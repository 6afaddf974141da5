//! Tenants: the default one is made at first start; global admins of the default tenant (the
//! operators of the directory service) make more, each with its own first global admin.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::{Error, FieldViolation};
use super::secret::Password;
use super::service::Gatehouse;
use super::types::{Actor, Role};
use crate::store::TenantRow;

/// A tenant as callers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantView {
    /// Its id.
    pub id: Uuid,
    /// Its unique name.
    pub name: String,
    /// Its primary domain.
    pub primary_domain: String,
    /// Whether it is the default tenant.
    pub is_default: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A new tenant and its first admin's one-time password (shown once).
#[derive(Debug)]
pub struct CreatedTenant {
    /// The tenant.
    pub tenant: TenantView,
    /// The first global admin's one-time password.
    pub admin_password: Password,
}

impl Gatehouse {
    /// Creates a tenant with the default policy and `admin_username` as its first global
    /// admin, all in one transaction. Only a global admin of the default tenant may.
    pub async fn create_tenant_as(
        &self,
        actor: &Actor,
        name: &str,
        primary_domain: &str,
        admin_username: &str,
    ) -> Result<CreatedTenant, Error> {
        self.require_operator(actor, "tenant.create").await?;
        let mut violations = Vec::new();
        let name = name.trim();
        if let Err(v) = check_name(name) {
            violations.push(v);
        }
        let domain = primary_domain.trim().to_ascii_lowercase();
        if let Err(v) = check_domain("primary_domain", &domain) {
            violations.push(v);
        }
        let admin = match super::users::normalise_username("admin_username", admin_username) {
            Ok(admin) if admin.rsplit_once('@').is_some_and(|(_, d)| d == domain) => Some(admin),
            Ok(_) => {
                violations.push(FieldViolation::new(
                    "admin_username",
                    "must be under the primary domain (name@primary_domain), so that it signs in to the new tenant",
                ));
                None
            }
            Err(Error::InvalidArgument { violations: v, .. }) => {
                violations.extend(v);
                None
            }
            Err(e) => return Err(e),
        };
        Error::from_violations(violations)?;
        let admin = admin.unwrap_or_default();
        // Sign-in finds a tenant by the username's domain, falling back to the default tenant:
        // a new tenant must not take over the sign-in of users already named under its domain.
        if self.store.tenant_by_domain(&domain).await?.is_some() {
            return Err(Error::AlreadyExists(format!(
                "a tenant with the domain {domain} exists"
            )));
        }
        if self.store.users_under_domain(&domain).await? > 0 {
            return Err(Error::FailedPrecondition(format!(
                "users named under {domain} exist in another tenant and sign in there; rename them or pick another domain"
            )));
        }
        let (tenant, admin_password) = self
            .create_tenant_with_admin(Some(actor), name, &domain, &admin)
            .await?;
        Ok(CreatedTenant {
            tenant: view(tenant),
            admin_password,
        })
    }

    /// Every tenant, oldest first. Only a global admin of the default tenant may list them.
    pub async fn list_tenants(&self, actor: &Actor) -> Result<Vec<TenantView>, Error> {
        self.require_operator(actor, "tenant.list").await?;
        Ok(self.store.tenants().await?.into_iter().map(view).collect())
    }

    /// A global admin of the default tenant; anyone else is refused (and audited).
    async fn require_operator(&self, actor: &Actor, action: &str) -> Result<(), Error> {
        self.require(actor, action, &[Role::GlobalAdmin]).await?;
        let default = self.store.default_tenant().await?;
        if default.is_some_and(|t| t.id == actor.tenant_id) {
            return Ok(());
        }
        Err(self
            .deny(
                actor,
                action,
                "tenant".to_owned(),
                "only a global admin of the default tenant manages tenants".to_owned(),
            )
            .await)
    }
}

fn view(row: TenantRow) -> TenantView {
    TenantView {
        id: row.id,
        name: row.name,
        primary_domain: row.primary_domain.unwrap_or_default(),
        is_default: row.is_default,
        created_at: row.created_at,
    }
}

fn check_name(name: &str) -> Result<(), FieldViolation> {
    let length = name.chars().count();
    if length == 0 {
        return Err(FieldViolation::new("name", "required"));
    }
    if length > 100 {
        return Err(FieldViolation::new(
            "name",
            "must be at most 100 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            "name",
            "must not contain control characters",
        ));
    }
    if Uuid::parse_str(name).is_ok() {
        // Callers name a tenant by id or by name: a name must not look like an id.
        return Err(FieldViolation::new("name", "must not be a UUID"));
    }
    Ok(())
}

/// A DNS name of at least two labels: letters, digits and inner hyphens, 1 to 63 characters
/// each, 253 in all.
fn check_domain(field: &str, domain: &str) -> Result<(), FieldViolation> {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(FieldViolation::new(
            field,
            "must be a domain name such as fabrikam.example",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_dns_names() {
        for good in ["fabrikam.example", "a-b.c.example", "x1.io"] {
            assert!(check_domain("d", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "localhost",
            "-a.example",
            "a..example",
            "a_b.example",
            "a b.example",
        ] {
            assert!(check_domain("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_short_printable_and_not_ids() {
        assert!(check_name("Fabrikam").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&Uuid::now_v7().to_string()).is_err());
    }
}
