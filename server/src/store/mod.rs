//! Storage: SeaORM entities and the queries the domain needs, on SQLite or PostgreSQL.
//!
//! Reads go through [`Store`]; every change goes through a [`Tx`] from [`Store::write`], so a
//! flow's rows and its audit event commit together or not at all. On SQLite a write
//! transaction takes the write lock up front (`BEGIN IMMEDIATE`), so concurrent writers wait
//! for each other (bounded by the busy timeout) instead of failing half-way.

mod audit;
mod bulk;
mod cache;
mod cleanup;
mod codes;
mod compromised;
pub mod entities;
mod feed;
mod flows;
mod hash;
mod lockout;
mod methods;
mod outbox;
mod quotas;
mod registration;
mod reminders;
mod report;
mod requests;
mod roles;
mod sessions;
mod tenants;
mod units;
mod url;
mod users;

use std::time::Duration;

use chrono::{DateTime, DurationRound as _, Utc};
use gatehouse_migrations::{Migrator, MigratorTrait as _};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait as _,
};

pub use audit::{AuditFilter, NewAuditEvent, chain_hash};
pub use bulk::{BulkItemRow, BulkJobRow, PENDING};
pub use cache::TTL as CACHE_TTL;
pub use cleanup::Expiring;
pub use codes::CodeRow;
pub use compromised::CompromisedListRow;
pub use entities::{
    administrative_unit::Model as UnitRow, audit_event::Model as AuditRow,
    password_credential::Model as CredentialRow, password_policy::Model as PolicyRow,
    role_assignment::Model as RoleRow, session::Model as SessionRow, tenant::Model as TenantRow,
    user::Model as UserRow,
};
pub use feed::AuditObserver;
pub use flows::FlowRow;
pub use hash::PasswordHash;
pub use lockout::{ATTEMPT_LEASE, RECENT_FAILURES, Recorded, Reservation};
pub use methods::{MethodRow, Proof};
pub use outbox::{NewMessage, OutboxRow};
pub use registration::{Registered, RegistrationFilter, judged_key};
pub use report::{ActivityCount, ActorCount, REPORTED_ACTIONS};
pub use requests::{OPEN, RequestRow};
pub use roles::RoleFilter;
pub use units::UnitMemberRow;
pub use url::DatabaseUrl;
pub use users::{Reach, UserFilter, UserPatch, UserScope};

/// How long a call waits for a database connection before failing with UNAVAILABLE.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a SQLite connection waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the row; the text says which thing exists.
    #[error("{0}")]
    Conflict(String),
    /// The database failed or refused.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A stored value is not one the code writes.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database could not be reached or could not write at all (connection
    /// refused or lost, pool timeout, a PostgreSQL shutting down, a SQLite file that is
    /// locked past the busy timeout, read-only, full or gone): the call failed without changing anything and may be
    /// retried, as opposed to a fault in the request or the code.
    pub fn is_unreachable(&self) -> bool {
        use sea_orm::RuntimeErr;
        let StoreError::Db(e) = self else {
            return false;
        };
        let sqlx = match e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
            DbErr::Exec(RuntimeErr::SqlxError(inner))
            | DbErr::Query(RuntimeErr::SqlxError(inner)) => inner,
            _ => return false,
        };
        use sea_orm::sqlx::Error as Sqlx;
        match &**sqlx {
            Sqlx::Io(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed
            | Sqlx::Tls(_) => true,
            Sqlx::Database(db) => db.code().is_some_and(|code| unreachable_code(&code)),
            _ => false,
        }
    }

    /// Maps a unique-constraint failure to [`StoreError::Conflict`] with `what`.
    pub(crate) fn conflict_as(e: DbErr, what: &str) -> StoreError {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(what.to_owned()),
            _ => StoreError::Db(e),
        }
    }
}

/// PostgreSQL's connection and shutdown SQLSTATEs (class 08, 57P01–57P03) and SQLite's busy
/// (after the busy timeout), read-only, I/O, full and cannot-open codes (extended codes
/// included).
fn unreachable_code(code: &str) -> bool {
    if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
        return true;
    }
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 8 | 10 | 13 | 14))
}

/// Result of storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The current time at the database's precision (microseconds), so a stored and re-read
/// time compares equal to the one written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or(now)
}

/// The database: a connection pool on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    sqlite: bool,
    cache: std::sync::Arc<cache::ReadCache>,
    feed: std::sync::Arc<feed::AuditFeed>,
}

/// Held while one process migrates and bootstraps; other replicas starting at the same time
/// wait for it (a PostgreSQL advisory lock on a connection of its own; SQLite needs none).
pub struct StartupLock {
    conn: Option<DatabaseConnection>,
}

/// An arbitrary, fixed key for the advisory lock ("gatehouse" in ASCII).
const STARTUP_LOCK_KEY: i64 = 0x6761_7465_686f_7573;

impl StartupLock {
    /// Releases the lock.
    pub async fn release(self) -> StoreResult<()> {
        if let Some(conn) = self.conn {
            conn.execute_unprepared(&format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    tx: DatabaseTransaction,
    /// The audit chain head of the tenant this transaction locked (id, seq, hash): appends
    /// under the lock need not read it again.
    head: std::sync::Mutex<Option<(uuid::Uuid, i64, String)>>,
    cache: std::sync::Arc<cache::ReadCache>,
    /// Set by changes to what [`cache::ReadCache`] holds; the commit then invalidates it.
    invalidates: std::sync::atomic::AtomicBool,
    /// Set by transactions that change nothing a user view shows; the commit then leaves
    /// the cached user views alone.
    keeps_user_views: std::sync::atomic::AtomicBool,
    feed: std::sync::Arc<feed::AuditFeed>,
    /// The audit events appended, for the feed once the commit succeeded.
    appended: std::sync::Mutex<Vec<NewAuditEvent>>,
}

impl Store {
    /// Connects (creating a SQLite file when missing). Does not migrate.
    pub async fn connect(url: &DatabaseUrl) -> StoreResult<Store> {
        let sqlite = url.is_sqlite();
        let mut options = ConnectOptions::new(url.expose());
        options
            .sqlx_logging(false)
            .max_connections(if sqlite { 8 } else { 16 })
            // Short: with the database gone, a call fails with UNAVAILABLE in seconds
            // instead of hanging to the caller's deadline.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT);
        if sqlite {
            options.map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
            // A COMMIT that failed (a full disk) can leave SQLite inside the transaction
            // while the driver believes it ended, holding the write lock for good. A
            // connection going back to the pool ends any such transaction first; the
            // ROLLBACK's "no transaction is active" is the normal answer.
            options.map_sqlx_sqlite_pool_opts(|pool| {
                pool.after_release(|conn, _| {
                    Box::pin(async move {
                        use sea_orm::sqlx::Executor as _;
                        let _ = conn.execute("ROLLBACK").await;
                        Ok(true)
                    })
                })
            });
        }
        let db = Database::connect(options).await?;
        Ok(Store {
            db,
            sqlite,
            cache: Default::default(),
            feed: Default::default(),
        })
    }

    /// Takes the start-up lock (see [`StartupLock`]).
    pub async fn startup_lock(url: &DatabaseUrl) -> StoreResult<StartupLock> {
        if url.is_sqlite() {
            return Ok(StartupLock { conn: None });
        }
        let mut options = ConnectOptions::new(url.expose());
        options
            .sqlx_logging(false)
            .max_connections(1)
            .min_connections(1);
        let conn = Database::connect(options).await?;
        conn.execute_unprepared(&format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
            .await?;
        Ok(StartupLock { conn: Some(conn) })
    }

    /// Runs pending migrations; returns how many ran.
    pub async fn migrate(&self) -> StoreResult<usize> {
        let pending = Migrator::get_pending_migrations(&self.db).await?.len();
        Migrator::up(&self.db, None).await?;
        Ok(pending)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Starts a write transaction that holds the tenant's row lock from the start. Every
    /// audited change takes this path, so locks are always taken tenant first, then user,
    /// and appends to the tenant's audit chain never interleave.
    pub async fn write_tenant(&self, tenant_id: uuid::Uuid) -> StoreResult<Tx> {
        let tx = self.write().await?;
        tx.lock_tenant(tenant_id).await?;
        Ok(tx)
    }

    /// Starts a write transaction.
    pub async fn write(&self) -> StoreResult<Tx> {
        let options = TransactionOptions {
            sqlite_transaction_mode: self.sqlite.then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let tx = self.db.begin_with_options(options).await?;
        Ok(Tx {
            tx,
            head: std::sync::Mutex::new(None),
            cache: self.cache.clone(),
            invalidates: std::sync::atomic::AtomicBool::new(false),
            keeps_user_views: std::sync::atomic::AtomicBool::new(false),
            feed: self.feed.clone(),
            appended: Default::default(),
        })
    }

    /// A receiver that changes whenever a transaction of this process that appended audit
    /// events commits (other processes' commits are not seen: poll for those).
    pub fn audit_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.feed.subscribe()
    }

    /// Sets the observer told each audit event this process commits (the metrics); only the
    /// first call takes effect.
    pub fn observe_audit(&self, observer: AuditObserver) {
        self.feed.observe(observer);
    }

    /// The pool's open connections and, of those, the idle ones.
    pub fn pool_connections(&self) -> (usize, usize) {
        if self.sqlite {
            let pool = self.db.get_sqlite_connection_pool();
            (pool.size() as usize, pool.num_idle())
        } else {
            let pool = self.db.get_postgres_connection_pool();
            (pool.size() as usize, pool.num_idle())
        }
    }

    /// Whether this is the embedded SQLite store.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Closes the pool.
    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl Tx {
    /// Makes every change of the transaction durable.
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if !self
            .keeps_user_views
            .load(std::sync::atomic::Ordering::Acquire)
        {
            self.cache.invalidate_users();
        }
        if self.invalidates.load(std::sync::atomic::Ordering::Acquire) {
            self.cache.invalidate();
        }
        if let Ok(appended) = self.appended.into_inner() {
            self.feed.committed(&appended);
        }
        Ok(())
    }

    /// Marks this transaction as changing sessions, roles, tenants or policy: its commit
    /// invalidates the read cache.
    pub(crate) fn invalidates_cache(&self) {
        self.invalidates
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Marks this transaction as changing nothing an administrator's view of a user shows
    /// (the user row, the credential's change flag, set time and lock, when their methods
    /// were confirmed): its commit leaves the cached user views alone, where every other
    /// write transaction's forgets them all. For the frequent writes that only open a
    /// session, clear failure counts or append to the audit log: when every sign-in forgot
    /// every view, a sign-in flood turned a share of `GetUser` calls into cache misses.
    pub(crate) fn changes_no_user_view(&self) {
        self.keeps_user_views
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }
}
