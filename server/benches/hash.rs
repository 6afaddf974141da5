//! Argon2id cost on this machine with the default settings: the time of one hash on one
//! thread, and the throughput of the bounded pool with one worker per core.
//!
//! `cargo bench -p gatehouse --bench hash` (release), or `--profile dev` for a quick figure
//! (the dev profile builds argon2 and blake2 at opt-level 3).

use std::time::Instant;

use gatehouse::domain::{HashSettings, Hasher, Password};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let settings = HashSettings::default();
        let hasher = Hasher::new(settings)?;
        let password = Password::new("a benchmark passphrase of fair length".to_owned());
        hasher.hash(&password).await?; // warm-up

        let rounds = 40;
        let start = Instant::now();
        for _ in 0..rounds {
            hasher.hash(&password).await?;
        }
        let one = start.elapsed() / rounds;
        println!(
            "argon2id m={} KiB t={} p={}: {:.1} ms per hash on one thread",
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            one.as_secs_f64() * 1000.0
        );

        let total = 200;
        let start = Instant::now();
        let tasks: Vec<_> = (0..total)
            .map(|_| {
                let hasher = hasher.clone();
                let password = password.clone();
                tokio::spawn(async move { hasher.hash(&password).await })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "pool of {} workers: {:.0} hashes/s ({} hashes in {:.2} s)",
            settings.workers,
            f64::from(total) / elapsed,
            total,
            elapsed
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
