//! The compromised-password list: importing `BENCH_COMPROMISED_ENTRIES` (default 1,000,000)
//! corpus lines into a fresh SQLite database (time, filter bytes per entry, measured
//! false-positive rate), then the time the sign-in check adds (a SHA-1 and a filter lookup)
//! next to one Argon2id verification with the default settings on the same thread (goal: the
//! check under 1 % of a sign-in).
//!
//! `cargo bench -p gatehouse --bench compromised` (release).

use std::io::Write as _;
use std::time::Instant;

use gatehouse::domain::compromised::{BreachFilter, sha1_hex};
use gatehouse::domain::{HashSettings, Hasher, Password};
use gatehouse::store::{DatabaseUrl, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let entries: u64 = std::env::var("BENCH_COMPROMISED_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let list = dir.path().join("list.txt");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&list)?);
        for i in 0..entries {
            writeln!(
                out,
                "{}:{}",
                sha1_hex(&format!("leaked password {i}")),
                i % 97 + 1
            )?;
        }
        out.flush()?;
        drop(out);
        let config = gatehouse::Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(DatabaseUrl::sqlite_file(&dir.path().join("bench.db"))),
            ..gatehouse::Config::default()
        };
        let report = gatehouse::import_compromised(&config, &list, 1, false).await?;
        println!(
            "import of {entries} corpus lines: {:.2} s; filter {} bytes = {:.2} bytes per entry; \
             false-positive rate {:.5}% measured (built for {:.5}%)",
            report.took.as_secs_f64(),
            report.bytes,
            report.bytes_per_entry(),
            report.false_positive_rate * 100.0,
            gatehouse::domain::compromised::STATED_FALSE_POSITIVE_RATE * 100.0,
        );

        let store = Store::connect(&config.database_url()).await?;
        let id = store
            .newest_compromised_list()
            .await?
            .ok_or("no list stored")?;
        let filter = BreachFilter::from_bytes(&store.compromised_list_bytes(id).await?)?;
        let candidates: Vec<String> = (0..100_000)
            .map(|i| format!("a candidate sign-in password {i}"))
            .collect();
        let started = Instant::now();
        let mut listed = 0u32;
        for candidate in &candidates {
            listed += u32::from(filter.contains_password(candidate));
        }
        let check = started.elapsed() / u32::try_from(candidates.len())?;

        let hasher = Hasher::new(HashSettings::default())?;
        let password = Password::new("a benchmark passphrase of fair length".to_owned());
        let hash = hasher.hash(&password).await?;
        hasher.verify(&password, Some(&hash)).await?; // warm-up
        let rounds = 20u32;
        let started = Instant::now();
        for _ in 0..rounds {
            hasher.verify(&password, Some(&hash)).await?;
        }
        let sign_in = started.elapsed() / rounds;
        println!(
            "sign-in check: {:.2} µs per password ({listed} of {} candidates listed) against \
             {:.1} ms for the Argon2id verification of a sign-in: {:.4}% of it (goal < 1%)",
            check.as_secs_f64() * 1e6,
            candidates.len(),
            sign_in.as_secs_f64() * 1e3,
            check.as_secs_f64() / sign_in.as_secs_f64() * 100.0,
        );
        Ok(())
    })
}
