//! Tenants and their password policies.

use sea_orm::{ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::cache::TenantKey;
use super::entities::{password_policy, tenant};
use super::{PolicyRow, Store, StoreError, StoreResult, TenantRow, Tx, now};

impl Store {
    /// The tenant created at first start.
    pub async fn default_tenant(&self) -> StoreResult<Option<TenantRow>> {
        let query = async {
            Ok(tenant::Entity::find()
                .filter(tenant::Column::IsDefault.eq(true))
                .one(self.conn())
                .await?)
        };
        self.cache
            .through(&self.cache.tenants, TenantKey::Default, query)
            .await
    }

    /// A tenant by id or by name.
    pub async fn tenant_by_id_or_name(&self, key: &str) -> StoreResult<Option<TenantRow>> {
        let query = async {
            let query = match Uuid::parse_str(key) {
                Ok(id) => tenant::Entity::find_by_id(id),
                Err(_) => tenant::Entity::find().filter(tenant::Column::Name.eq(key)),
            };
            Ok(query.one(self.conn()).await?)
        };
        let cache_key = TenantKey::IdOrName(key.to_owned());
        self.cache
            .through(&self.cache.tenants, cache_key, query)
            .await
    }

    /// Every tenant, oldest first.
    pub async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        use sea_orm::QueryOrder as _;
        Ok(tenant::Entity::find()
            .order_by_asc(tenant::Column::CreatedAt)
            .order_by_asc(tenant::Column::Id)
            .all(self.conn())
            .await?)
    }

    /// The tenant whose primary domain is `domain`.
    pub async fn tenant_by_domain(&self, domain: &str) -> StoreResult<Option<TenantRow>> {
        let query = async {
            Ok(tenant::Entity::find()
                .filter(tenant::Column::PrimaryDomain.eq(domain))
                .one(self.conn())
                .await?)
        };
        let key = TenantKey::Domain(domain.to_owned());
        self.cache.through(&self.cache.tenants, key, query).await
    }

    /// The tenant's password policy row, when one was stored; from the read cache, so a
    /// policy change through another replica applies here within its TTL.
    pub async fn policy(&self, tenant_id: Uuid) -> StoreResult<Option<PolicyRow>> {
        let query = async {
            Ok(password_policy::Entity::find_by_id(tenant_id)
                .one(self.conn())
                .await?)
        };
        self.cache
            .through(&self.cache.policies, tenant_id, query)
            .await
    }
}

impl Tx {
    /// Creates a tenant with an empty audit chain.
    pub async fn insert_tenant(
        &self,
        name: &str,
        primary_domain: Option<&str>,
        is_default: bool,
    ) -> StoreResult<TenantRow> {
        self.invalidates_cache();
        let row = tenant::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(name.to_owned()),
            primary_domain: Set(primary_domain.map(str::to_owned)),
            is_default: Set(is_default),
            audit_seq: Set(0),
            audit_head: Set(super::audit::GENESIS.to_owned()),
            audit_removed_seq: Set(0),
            audit_removed_hash: Set(super::audit::GENESIS.to_owned()),
            // Judged by the next registration sweep (there is nobody to judge yet).
            registration_judged_for: Set(String::new()),
            created_at: Set(now()),
        };
        tenant::Entity::insert(row)
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, "a tenant with this name or domain exists"))
    }

    /// Stores a tenant's password policy, replacing the previous one.
    pub async fn put_policy(&self, row: PolicyRow) -> StoreResult<()> {
        self.invalidates_cache();
        let tenant_id = row.tenant_id;
        let active: password_policy::ActiveModel = row.into();
        let active = sea_orm::ActiveModelTrait::reset_all(active);
        if password_policy::Entity::find_by_id(tenant_id)
            .one(self.conn())
            .await?
            .is_some()
        {
            password_policy::Entity::update(active)
                .exec(self.conn())
                .await?;
        } else {
            password_policy::Entity::insert(active)
                .exec(self.conn())
                .await?;
        }
        Ok(())
    }
}

impl Tx {
    /// Locks the tenant row until the transaction ends, serialising changes that must see a
    /// stable tenant-wide count (such as "the last global admin").
    pub async fn lock_tenant(&self, tenant_id: Uuid) -> StoreResult<()> {
        use sea_orm::QuerySelect as _;
        let row = tenant::Entity::find_by_id(tenant_id)
            .lock_exclusive()
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no tenant {tenant_id}")))?;
        self.remember_head(row.id, row.audit_seq, row.audit_head);
        Ok(())
    }
}
