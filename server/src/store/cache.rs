//! A short-lived cache of the reads nearly every call repeats: the session a token opens, the
//! roles of the caller, the tenant a name or domain finds, and the tenant's policy.
//!
//! Two rules keep it correct across replicas:
//!
//! - **This process's changes apply at once.** A transaction that revokes sessions or
//!   changes roles, policy, tenants or users marks itself; when it commits, the cache's
//!   generation moves on and every entry made before is ignored. An entry is stored with the
//!   generation read *before* its query ran, so a read that raced a commit is never kept.
//! - **Other replicas' changes apply within [`TTL`].** Entries are used for at most that long
//!   after their query, so a change committed through any replica takes effect everywhere
//!   within a second.
//!
//! A user as an administrator reads it (`GetUser`: the user row, its credential and when its
//! methods were confirmed) is cached the same way under a generation of its own, which every
//! write transaction of this process moves on unless it is marked as changing nothing a view
//! shows (opening a session at sign-in, an audit event alone, claiming outbox messages): a
//! commit never leaves this replica's view of a user stale, the frequent writes do not empty
//! the session and role shelves, and a sign-in flood does not empty the user views.
//!
//! Each shelf holds at most [`CAPACITY`] entries and is emptied when full: memory stays bounded
//! whatever the number of sessions.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CredentialRow, PolicyRow, RoleRow, SessionRow, StoreResult, TenantRow, UserRow};

/// How long an entry is used after its query: the bound on how late another replica's change
/// is seen here.
pub const TTL: Duration = Duration::from_millis(500);

/// Age at which the first reader of an entry reloads it while every other reader goes on
/// using it (until [`TTL`]): a hot entry is read again by one call at a time, in the
/// background of the others, instead of expiring under all of them at once, which made every
/// call in flight at that moment wait for the database and set cheap calls' p99.
pub(super) const REFRESH_AFTER: Duration = Duration::from_millis(250);

/// Entries per shelf.
pub(super) const CAPACITY: usize = 20_000;

struct Entry<V> {
    value: V,
    generation: u64,
    loaded_at: Instant,
    /// A reader is loading a newer value.
    refreshing: bool,
}

/// One kind of cached read.
pub(super) struct Shelf<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
}

impl<K, V> Default for Shelf<K, V> {
    fn default() -> Self {
        Shelf {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Shelf<K, V> {
    /// The entry's value when it is current; `None` tells the caller to load it, which is
    /// also what the first reader past [`REFRESH_AFTER`] is told.
    fn get(&self, key: &K, generation: u64) -> Option<V> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries
            .get_mut(key)
            .filter(|e| e.generation == generation)?;
        let age = entry.loaded_at.elapsed();
        if age >= TTL || (age >= REFRESH_AFTER && !entry.refreshing) {
            entry.refreshing = true;
            return None;
        }
        Some(entry.value.clone())
    }

    fn put(&self, key: K, value: V, generation: u64, loaded_at: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                value,
                generation,
                loaded_at,
                refreshing: false,
            },
        );
    }
}

/// Who holds a set of roles.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Holder {
    User(Uuid),
    Service(String),
}

/// How a user was looked up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum UserKey {
    Id(Uuid),
    Username(String),
}

/// A user row with its credential, when it has one, and when each of their confirmed methods
/// was last confirmed.
pub(super) type UserView = Option<(UserRow, Option<CredentialRow>, Vec<DateTime<Utc>>)>;

/// How a tenant was looked up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum TenantKey {
    Default,
    Domain(String),
    IdOrName(String),
}

/// The cache a [`super::Store`] and its clones share.
#[derive(Default)]
pub(super) struct ReadCache {
    generation: AtomicU64,
    /// Moved on by every write transaction that may change a user view; guards
    /// [`ReadCache::users`].
    directory: AtomicU64,
    pub(super) users: Shelf<(Uuid, UserKey), UserView>,
    pub(super) sessions: Shelf<String, SessionRow>,
    pub(super) roles: Shelf<(Uuid, Holder), Vec<RoleRow>>,
    pub(super) tenants: Shelf<TenantKey, Option<TenantRow>>,
    pub(super) policies: Shelf<Uuid, Option<PolicyRow>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    /// Forgets everything cached so far: called after a commit that changed what is cached.
    pub(super) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets every cached user view: called after a write transaction that may have
    /// changed one commits.
    pub(super) fn invalidate_users(&self) {
        self.directory.fetch_add(1, Ordering::AcqRel);
    }

    /// A user view from the cache, or `load`'s (then cached).
    pub(super) async fn user_view(
        &self,
        key: (Uuid, UserKey),
        load: impl Future<Output = StoreResult<UserView>>,
    ) -> StoreResult<UserView> {
        Self::through_at(&self.directory, &self.users, key, load).await
    }

    /// The cached value, or `load`'s (then cached).
    pub(super) async fn through<K: Hash + Eq, V: Clone>(
        &self,
        shelf: &Shelf<K, V>,
        key: K,
        load: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        Self::through_at(&self.generation, shelf, key, load).await
    }

    async fn through_at<K: Hash + Eq, V: Clone>(
        counter: &AtomicU64,
        shelf: &Shelf<K, V>,
        key: K,
        load: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        let generation = counter.load(Ordering::Acquire);
        if let Some(value) = shelf.get(&key, generation) {
            return Ok(value);
        }
        let loaded_at = Instant::now();
        let value = load.await?;
        shelf.put(key, value.clone(), generation, loaded_at);
        Ok(value)
    }

    /// Like [`ReadCache::through`], keeping only what was found: something created a moment
    /// ago (a session just opened) must be found at once.
    pub(super) async fn through_found<K: Hash + Eq, V: Clone>(
        &self,
        shelf: &Shelf<K, V>,
        key: K,
        load: impl Future<Output = StoreResult<Option<V>>>,
    ) -> StoreResult<Option<V>> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(value) = shelf.get(&key, generation) {
            return Ok(Some(value));
        }
        let loaded_at = Instant::now();
        let value = load.await?;
        if let Some(value) = &value {
            shelf.put(key, value.clone(), generation, loaded_at);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_serve_until_invalidated_or_stale() {
        let cache = ReadCache::default();
        let shelf: Shelf<u8, u32> = Shelf::default();
        let loaded = cache.through(&shelf, 1, async { Ok(10) }).await.ok();
        assert_eq!(loaded, Some(10));
        let again = cache.through(&shelf, 1, async { Ok(11) }).await.ok();
        assert_eq!(again, Some(10), "served from the cache");
        cache.invalidate();
        let fresh = cache.through(&shelf, 1, async { Ok(12) }).await.ok();
        assert_eq!(fresh, Some(12), "a local change applies at once");
        tokio::time::sleep(TTL).await;
        let later = cache.through(&shelf, 1, async { Ok(13) }).await.ok();
        assert_eq!(
            later,
            Some(13),
            "another replica's change applies within the TTL"
        );
    }

    #[tokio::test]
    async fn one_reader_refreshes_an_ageing_entry_while_the_others_use_it() {
        let cache = ReadCache::default();
        let shelf: Shelf<u8, u32> = Shelf::default();
        cache.through(&shelf, 1, async { Ok(1) }).await.ok();
        tokio::time::sleep(REFRESH_AFTER).await;
        // The first reader past the refresh age loads; while it does, the others read the
        // entry, which is still younger than the TTL.
        let refreshed = cache
            .through(&shelf, 1, async {
                let meanwhile = cache.through(&shelf, 1, async { Ok(99) }).await.ok();
                assert_eq!(meanwhile, Some(1), "served while another reader refreshes");
                Ok(2)
            })
            .await
            .ok();
        assert_eq!(refreshed, Some(2));
        let next = cache.through(&shelf, 1, async { Ok(3) }).await.ok();
        assert_eq!(next, Some(2), "the refreshed entry");
        // An entry whose refresh never came back is still never used past the TTL.
        tokio::time::sleep(REFRESH_AFTER).await;
        let failed = cache
            .through(&shelf, 1, async {
                Err(super::super::StoreError::Conflict("gone".into()))
            })
            .await;
        assert!(failed.is_err());
        let during = cache.through(&shelf, 1, async { Ok(4) }).await.ok();
        assert_eq!(during, Some(2), "younger than the TTL");
        tokio::time::sleep(TTL - REFRESH_AFTER).await;
        let expired = cache.through(&shelf, 1, async { Ok(5) }).await.ok();
        assert_eq!(expired, Some(5), "past the TTL everyone loads");
    }

    #[tokio::test]
    async fn a_read_that_raced_a_commit_is_not_kept() {
        let cache = ReadCache::default();
        let shelf: Shelf<u8, u32> = Shelf::default();
        let raced = cache
            .through(&shelf, 1, async {
                cache.invalidate();
                Ok(1)
            })
            .await
            .ok();
        assert_eq!(raced, Some(1));
        let next = cache.through(&shelf, 1, async { Ok(2) }).await.ok();
        assert_eq!(next, Some(2));
    }

    #[tokio::test]
    async fn nothing_found_is_not_kept_where_only_finds_are() {
        let cache = ReadCache::default();
        let shelf: Shelf<u8, u32> = Shelf::default();
        let none = cache
            .through_found(&shelf, 1, async { Ok(None) })
            .await
            .ok();
        assert_eq!(none, Some(None));
        let found = cache
            .through_found(&shelf, 1, async { Ok(Some(5)) })
            .await
            .ok();
        assert_eq!(found, Some(Some(5)));
    }

    #[test]
    fn a_full_shelf_empties_instead_of_growing() {
        let shelf: Shelf<usize, usize> = Shelf::default();
        for n in 0..=CAPACITY {
            shelf.put(n, n, 0, Instant::now());
        }
        assert_eq!(shelf.entries.lock().map(|e| e.len()).ok(), Some(1));
    }
}
