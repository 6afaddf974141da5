//! Argon2id on a bounded pool, off the async runtime.
//!
//! At most `workers` hashes run at once (one per core by default); at most `queue` more wait.
//! Beyond that a call fails at once with [`Error::ResourceExhausted`] instead of piling up
//! memory. Both permits move into the blocking task, so a caller that gives up (a dropped
//! future) cannot leak a slot: the task finishes and releases them.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash as PhcHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::error::Error;
use super::policy::normalise;
use super::secret::Password;
use crate::store::PasswordHash;

/// Argon2id cost and pool size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashSettings {
    /// Memory cost in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Hashes at once.
    pub workers: usize,
    /// Waiting hashes before calls are shed.
    pub queue: usize,
}

impl Default for HashSettings {
    fn default() -> Self {
        HashSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 256,
        }
    }
}

/// The result of checking a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The password matched.
    pub matches: bool,
    /// The stored hash is weaker than the current settings and should be replaced.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords on the bounded pool.
#[derive(Clone)]
pub struct Hasher {
    argon: Arc<Argon2<'static>>,
    params: Params,
    workers: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    worker_count: usize,
    dummy: Arc<str>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A pool with these settings. Computes the dummy hash used for unknown users.
    pub fn new(settings: HashSettings) -> Result<Hasher, Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| Error::Internal(format!("invalid argon2 settings: {e}").into()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = argon
            .hash_password(b"gatehouse dummy password for unknown users")
            .map_err(|e| Error::Internal(format!("hashing failed: {e}").into()))?
            .to_string();
        let workers = settings.workers.max(1);
        Ok(Hasher {
            argon: Arc::new(argon),
            params,
            workers: Arc::new(Semaphore::new(workers)),
            slots: Arc::new(Semaphore::new(workers + settings.queue)),
            worker_count: workers,
            dummy: dummy.into(),
        })
    }

    /// Hashes a password into a PHC string; sheds the call when the queue is full.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.hash_with(password, false).await
    }

    /// Hashes a password, waiting for a queue slot instead of shedding: for background work
    /// (a bulk reset) that paces itself to the pool.
    pub async fn hash_waiting(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.hash_with(password, true).await
    }

    async fn hash_with(&self, password: &Password, wait: bool) -> Result<PasswordHash, Error> {
        let argon = self.argon.clone();
        let password = password.clone();
        self.run(wait, move || {
            argon
                .hash_password(normalise(password.expose()).as_bytes())
                .map(|h| PasswordHash::new(h.to_string()))
                .map_err(|e| Error::Internal(format!("hashing failed: {e}").into()))
        })
        .await
    }

    /// Checks a password against a stored hash, or against a dummy hash when there is none,
    /// so that an unknown user costs the same time as a known one.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHash>,
    ) -> Result<Verified, Error> {
        let real = stored.is_some();
        let stored: Arc<str> = stored.map_or_else(|| self.dummy.clone(), |h| Arc::from(h.expose()));
        let argon = self.argon.clone();
        let wanted = self.params.clone();
        let password = password.clone();
        self.run(false, move || {
            let Ok(parsed) = PhcHash::new(&stored) else {
                return Ok(Verified {
                    matches: false,
                    needs_rehash: true,
                });
            };
            let matches = argon
                .verify_password(normalise(password.expose()).as_bytes(), &parsed)
                .is_ok();
            Ok(Verified {
                matches: matches && real,
                needs_rehash: real && is_weaker(&parsed, &wanted),
            })
        })
        .await
    }

    /// Whether a stored hash is weaker than the current settings.
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        PhcHash::new(stored.expose()).map_or(true, |parsed| is_weaker(&parsed, &self.params))
    }

    /// Workers this pool runs at once.
    pub fn workers(&self) -> usize {
        self.worker_count
    }

    async fn run<T: Send + 'static>(
        &self,
        wait: bool,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let slot = if wait {
            self.slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Internal(Box::new(e)))?
        } else {
            self.slots.clone().try_acquire_owned().map_err(|_| {
                Error::ResourceExhausted(
                    "too many password checks in progress; retry shortly".to_owned(),
                )
            })?
        };
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(Box::new(e)))?;
        tokio::task::spawn_blocking(move || {
            let _permits = (slot, worker);
            work()
        })
        .await
        .map_err(|e| Error::Internal(Box::new(e)))?
    }
}

fn is_weaker(parsed: &PhcHash, wanted: &Params) -> bool {
    if parsed.algorithm.as_str() != Algorithm::Argon2id.ident().as_str() {
        return true;
    }
    match Params::try_from(parsed) {
        Ok(have) => {
            have.m_cost() < wanted.m_cost()
                || have.t_cost() < wanted.t_cost()
                || have.p_cost() < wanted.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(workers: usize, queue: usize) -> HashSettings {
        HashSettings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            workers,
            queue,
        }
    }

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = Hasher::new(cheap(1, 4)).expect("hasher");
        let password = Password::new("a long enough passphrase".into());
        let hash = hasher.hash(&password).await.expect("hash");
        assert!(hash.expose().starts_with("$argon2id$"));
        assert!(
            hasher
                .verify(&password, Some(&hash))
                .await
                .expect("verify")
                .matches
        );
        let wrong = Password::new("another passphrase".into());
        assert!(
            !hasher
                .verify(&wrong, Some(&hash))
                .await
                .expect("verify")
                .matches
        );
        assert!(
            !hasher
                .verify(&password, None)
                .await
                .expect("verify")
                .matches
        );
    }

    #[tokio::test]
    async fn weaker_hashes_are_flagged_for_rehash() {
        let weak = Hasher::new(cheap(1, 4)).expect("hasher");
        let strong = Hasher::new(HashSettings {
            memory_kib: 2048,
            ..cheap(1, 4)
        })
        .expect("hasher");
        let password = Password::new("a long enough passphrase".into());
        let hash = weak.hash(&password).await.expect("hash");
        let verified = strong.verify(&password, Some(&hash)).await.expect("verify");
        assert!(verified.matches && verified.needs_rehash);
        let fresh = strong.hash(&password).await.expect("hash");
        assert!(!strong.needs_rehash(&fresh));
    }

    #[tokio::test]
    async fn a_full_queue_sheds_load_and_recovers() {
        let hasher = Hasher::new(HashSettings {
            memory_kib: 8192,
            iterations: 3,
            ..cheap(1, 1)
        })
        .expect("hasher");
        let password = Password::new("a long enough passphrase".into());
        let calls: Vec<_> = (0..12)
            .map(|_| {
                let hasher = hasher.clone();
                let password = password.clone();
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        let mut shed = 0;
        for call in calls {
            if matches!(call.await.expect("join"), Err(Error::ResourceExhausted(_))) {
                shed += 1;
            }
        }
        assert!(
            shed > 0,
            "a pool of 1 worker and 1 queued slot must shed some of 12 calls"
        );
        assert!(
            hasher.hash(&password).await.is_ok(),
            "slots are released afterwards"
        );
    }
}
