//! Argon2id on a bounded pool of dedicated threads, off the async runtime.
//!
//! The pool owns `workers` threads. Each thread allocates its argon2 memory (m KiB) once, at
//! start, and hashes every password it is given into that same block, so the pool's memory
//! is `workers × m` by construction: no allocation per hash, nothing for the allocator to keep
//! resident per thread. At most `queue` more calls wait for a worker; beyond that a call fails
//! at once with [`Error::ResourceExhausted`]. A queue slot moves with the job to the worker and
//! is released when the job ends, so a caller that gives up (a dropped future) cannot leak one,
//! and a job whose caller has gone is skipped rather than hashed.
//!
//! By default the pool leaves one core to the async runtime (`cores − 1` workers, at least one):
//! cheap calls and the database work around each hash are then never queued behind hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as PhcHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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
    /// Hashes at once (worker threads).
    pub workers: usize,
    /// Waiting hashes before calls are shed.
    pub queue: usize,
}

impl HashSettings {
    /// The default worker count: every core but one (at least one), so that hashing never
    /// takes the cores the runtime needs for everything else.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }
}

impl Default for HashSettings {
    fn default() -> Self {
        HashSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            workers: HashSettings::default_workers(),
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

/// What the pool is doing right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolLoad {
    /// Workers hashing.
    pub busy: usize,
    /// Calls waiting for a worker.
    pub queued: usize,
    /// Calls refused because the queue was full, since start.
    pub shed: usize,
}

enum Work {
    Hash(Password),
    Verify {
        password: Password,
        stored: Option<PasswordHash>,
    },
}

enum Done {
    Hashed(PasswordHash),
    Verified(Verified),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<Done, Error>>,
    queued_at: std::time::Instant,
    _slot: OwnedSemaphorePermit,
}

struct Counters {
    busy: AtomicUsize,
    waiting: AtomicUsize,
    /// Calls refused with a full queue (also a metric).
    shed: prometheus_client::metrics::counter::Counter,
    /// How long jobs waited for a worker, in seconds (a metric).
    wait: prometheus_client::metrics::histogram::Histogram,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            busy: AtomicUsize::default(),
            waiting: AtomicUsize::default(),
            shed: Default::default(),
            // 0.1 ms to about 3 s, doubling.
            wait: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 15),
            ),
        }
    }
}

struct Pool {
    params: Params,
    jobs: mpsc::SyncSender<Job>,
    slots: Arc<Semaphore>,
    workers: usize,
    counters: Arc<Counters>,
}

/// Hashes and verifies passwords on the bounded pool. Clones share one pool; the worker
/// threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Hasher {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.pool.params)
            .field("workers", &self.pool.workers)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A pool with these settings: starts the worker threads, each with its own memory.
    pub fn new(settings: HashSettings) -> Result<Hasher, Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| Error::Internal(format!("invalid argon2 settings: {e}").into()))?;
        let workers = settings.workers.max(1);
        let capacity = workers + settings.queue;
        let (jobs, receiver) = mpsc::sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        // Verifying an unknown user's password against this costs one full hash, like a real
        // one; its salt and output are random, so nothing ever matches it.
        let dummy = Arc::new(PasswordHash::new(phc_string(
            &params,
            &random::<16>(),
            &random::<32>(),
        )?));
        let counters = Arc::new(Counters::default());
        for n in 0..workers {
            let receiver = receiver.clone();
            let worker = Worker {
                argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
                blocks: vec![Block::default(); params.block_count()],
                dummy: dummy.clone(),
                counters: counters.clone(),
            };
            std::thread::Builder::new()
                .name(format!("gatehouse-hash-{n}"))
                .spawn(move || worker.run(&receiver))
                .map_err(|e| Error::Internal(Box::new(e)))?;
        }
        Ok(Hasher {
            pool: Arc::new(Pool {
                params,
                jobs,
                slots: Arc::new(Semaphore::new(capacity)),
                workers,
                counters,
            }),
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
        match self.run(wait, Work::Hash(password.clone())).await? {
            Done::Hashed(hash) => Ok(hash),
            Done::Verified(_) => Err(Error::Internal(
                "the hash pool answered a hash with a check".into(),
            )),
        }
    }

    /// Checks a password against a stored hash, or against a dummy hash when there is none,
    /// so that an unknown user costs the same time as a known one.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&PasswordHash>,
    ) -> Result<Verified, Error> {
        let work = Work::Verify {
            password: password.clone(),
            stored: stored.cloned(),
        };
        match self.run(false, work).await? {
            Done::Verified(verified) => Ok(verified),
            Done::Hashed(_) => Err(Error::Internal(
                "the hash pool answered a check with a hash".into(),
            )),
        }
    }

    /// Whether a stored hash is weaker than the current settings.
    pub fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        PhcHash::new(stored.expose()).map_or(true, |parsed| is_weaker(&parsed, &self.pool.params))
    }

    /// Workers this pool runs at once.
    pub fn workers(&self) -> usize {
        self.pool.workers
    }

    /// Bytes of argon2 memory the pool holds: one block per worker, for the pool's lifetime.
    pub fn memory_bytes(&self) -> usize {
        self.pool.workers * self.pool.params.block_count() * Block::SIZE
    }

    /// The pool's metrics: calls shed (a counter) and the time jobs waited for a worker (a
    /// histogram), to register with the process's metrics.
    pub fn instruments(
        &self,
    ) -> (
        prometheus_client::metrics::counter::Counter,
        prometheus_client::metrics::histogram::Histogram,
    ) {
        let counters = &self.pool.counters;
        (counters.shed.clone(), counters.wait.clone())
    }

    /// Busy workers, waiting calls and calls shed so far.
    pub fn load(&self) -> PoolLoad {
        let counters = &self.pool.counters;
        PoolLoad {
            busy: counters.busy.load(Ordering::Relaxed),
            queued: counters.waiting.load(Ordering::Relaxed),
            shed: usize::try_from(counters.shed.get()).unwrap_or(usize::MAX),
        }
    }

    async fn run(&self, wait: bool, work: Work) -> Result<Done, Error> {
        let pool = &self.pool;
        let slot = if wait {
            pool.slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Internal(Box::new(e)))?
        } else {
            pool.slots.clone().try_acquire_owned().map_err(|_| {
                pool.counters.shed.inc();
                Error::ResourceExhausted(
                    "too many password checks in progress; retry shortly".to_owned(),
                )
            })?
        };
        let (reply, answer) = oneshot::channel();
        pool.counters.waiting.fetch_add(1, Ordering::Relaxed);
        // A slot is held, and the channel has room for every slot: this never blocks.
        if pool
            .jobs
            .try_send(Job {
                work,
                reply,
                queued_at: std::time::Instant::now(),
                _slot: slot,
            })
            .is_err()
        {
            pool.counters.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::Internal("the hash pool has stopped".into()));
        }
        answer
            .await
            .map_err(|_| Error::Internal("a hash worker stopped".into()))?
    }
}

/// One worker thread: its argon2 context and the memory it hashes into, reused for every job.
struct Worker {
    argon: Argon2<'static>,
    blocks: Vec<Block>,
    dummy: Arc<PasswordHash>,
    counters: Arc<Counters>,
}

/// How much less a hash worker weighs with the scheduler than the threads serving calls, as
/// a nice increment (19: the lowest priority a normal thread can have): when a cheap call and
/// a hash want the same core, the call gets it; a core nobody else wants still hashes at full
/// speed. Measured on a 2-core machine in alternating windows, a sign-in flood raises the p99
/// of one caller's cheap calls 1.0–1.5 × and of four callers' 2.2–3.6 ×, as much as a raw
/// argon2id thread at this priority in another process does. The idle policy (`SCHED_IDLE`)
/// gave 2.0–3.0 × for four callers, but the scheduler counts a core that runs only such a
/// thread as free and wakes the threads serving calls on it while the other core idles, so
/// every sign-in's own work interrupted the next hash: SignIn ran at 0.89–0.91 of the raw
/// hash rate, against 0.94–1.03 with a nice value.
const HASH_NICE_INCREMENT: i32 = 19;

/// Lowers the calling hash worker's scheduling priority by [`HASH_NICE_INCREMENT`]. On Linux
/// a nice value belongs to one thread, so only this thread changes; elsewhere nothing does.
fn yield_to_the_runtime() {
    #[cfg(target_os = "linux")]
    {
        let lowered = rustix::process::getpriority_process(None).and_then(|nice| {
            rustix::process::setpriority_process(None, (nice + HASH_NICE_INCREMENT).min(19))
        });
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "could not lower the hash worker's priority");
        }
    }
}

impl Worker {
    fn run(mut self, jobs: &Mutex<mpsc::Receiver<Job>>) {
        yield_to_the_runtime();
        loop {
            let job = {
                let Ok(receiver) = jobs.lock() else { return };
                match receiver.recv() {
                    Ok(job) => job,
                    // Every Hasher is gone: the pool is shutting down.
                    Err(_) => return,
                }
            };
            self.counters.waiting.fetch_sub(1, Ordering::Relaxed);
            self.counters
                .wait
                .observe(job.queued_at.elapsed().as_secs_f64());
            if job.reply.is_closed() {
                // The caller gave up while the job waited: nobody wants the answer.
                continue;
            }
            self.counters.busy.fetch_add(1, Ordering::Relaxed);
            let done = match job.work {
                Work::Hash(password) => self.hash(&password).map(Done::Hashed),
                Work::Verify { password, stored } => {
                    Ok(Done::Verified(self.verify(&password, stored.as_ref())))
                }
            };
            self.counters.busy.fetch_sub(1, Ordering::Relaxed);
            let _ = job.reply.send(done);
        }
    }

    fn hash(&mut self, password: &Password) -> Result<PasswordHash, Error> {
        let failed = |e: argon2::Error| Error::Internal(format!("hashing failed: {e}").into());
        let salt = random::<16>();
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon
            .hash_password_into_with_memory(
                normalise(password.expose()).as_bytes(),
                &salt,
                &mut output,
                &mut self.blocks[..],
            )
            .map_err(failed)?;
        Ok(PasswordHash::new(phc_string(
            self.argon.params(),
            &salt,
            &output,
        )?))
    }

    /// Checks against `stored` (or the dummy), with the stored hash's own parameters: a hash
    /// made under older settings still verifies, and is flagged for rehashing.
    fn verify(&mut self, password: &Password, stored: Option<&PasswordHash>) -> Verified {
        let real = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy);
        let unusable = Verified {
            matches: false,
            needs_rehash: true,
        };
        let Ok(parsed) = PhcHash::new(stored.expose()) else {
            return unusable;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return unusable;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
            return unusable;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return unusable,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return unusable;
        };
        let mut output = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params.clone());
        let password = normalise(password.expose());
        let hashed = if params.block_count() <= self.blocks.len() {
            argon.hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut output,
                &mut self.blocks[..params.block_count()],
            )
        } else {
            // Stored under a larger memory cost than the pool's: a one-off block for it.
            argon.hash_password_into(password.as_bytes(), salt.as_ref(), &mut output)
        };
        let matches = hashed.is_ok() && Output::new(&output).is_ok_and(|out| out == *expected);
        Verified {
            matches: matches && real,
            needs_rehash: real && is_weaker(&parsed, self.argon.params()),
        }
    }
}

/// The PHC string of an argon2id hash: `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
fn phc_string(params: &Params, salt: &[u8], output: &[u8]) -> Result<String, Error> {
    let invalid = |e: argon2::password_hash::phc::Error| {
        Error::Internal(format!("cannot encode a password hash: {e}").into())
    };
    let phc = PhcHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| Error::Internal(format!("cannot encode argon2 settings: {e}").into()))?,
        salt: Some(Salt::new(salt).map_err(invalid)?),
        hash: Some(Output::new(output).map_err(invalid)?),
    };
    Ok(phc.to_string())
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes);
    bytes
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

    /// The nice values of this process's threads whose name starts with `prefix`, and of the
    /// main thread.
    #[cfg(target_os = "linux")]
    fn nice_values(prefix: &str) -> (Vec<i64>, i64) {
        let nice = |task: &std::path::Path| -> i64 {
            let stat = std::fs::read_to_string(task.join("stat")).expect("stat");
            // Fields after the parenthesised name; nice is the 19th field overall.
            let rest = &stat[stat.rfind(')').expect("name") + 2..];
            rest.split(' ')
                .nth(16)
                .expect("nice")
                .parse()
                .expect("number")
        };
        let mut named = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").expect("tasks") {
            let task = task.expect("task").path();
            let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            if comm.starts_with(prefix) {
                named.push(nice(&task));
            }
        }
        (named, nice(std::path::Path::new("/proc/self")))
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hash_workers_give_way_to_the_threads_serving_calls() {
        let hasher = Hasher::new(cheap(2, 4)).expect("hasher");
        // A hash has run on a worker once it answers, so its priority is set by then.
        let password = Password::new("a long enough passphrase".into());
        for _ in 0..4 {
            hasher.hash(&password).await.expect("hash");
        }
        // Other tests start pools too: a worker that has just started may not have lowered
        // its priority yet, so look again for a moment before judging.
        let mut seen = (Vec::new(), 0);
        for _ in 0..50 {
            seen = nice_values("gatehouse-hash");
            let (workers, main) = &seen;
            let lowered = (main + i64::from(HASH_NICE_INCREMENT)).min(19);
            if workers.len() >= 2 && workers.iter().all(|nice| *nice == lowered) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("hash workers' nice values (and the main thread's): {seen:?}");
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
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = Hasher::new(cheap(1, 4)).expect("hasher");
        let password = Password::new("a long enough passphrase".into());
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).expect("params"),
        );
        // Ours verifies with the reference implementation...
        let ours = hasher.hash(&password).await.expect("hash");
        let parsed = PhcHash::new(ours.expose()).expect("a PHC string");
        assert!(
            reference
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        );
        // ...and a hash the reference made (as stored by earlier versions) verifies with ours.
        let theirs = reference
            .hash_password(password.expose().as_bytes())
            .expect("reference hash")
            .to_string();
        let verified = hasher
            .verify(&password, Some(&PasswordHash::new(theirs)))
            .await
            .expect("verify");
        assert!(verified.matches && !verified.needs_rehash);
    }

    #[test]
    fn the_pool_holds_one_block_per_worker() {
        let hasher = Hasher::new(cheap(3, 4)).expect("hasher");
        assert_eq!(hasher.memory_bytes(), 3 * 1024 * 1024);
        assert!(HashSettings::default_workers() >= 1);
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
