//! `gatehouse compromised import`: a list of compromised passwords into the database, as a
//! filter every replica loads (see [`crate::domain::compromised`]). The file is read as a
//! stream, one line at a time: either the public breach corpus's `SHA1HEX:count` lines or
//! plain passwords, one a line (both may be mixed). Only the eight-byte keys are held while
//! reading (8 bytes an entry); the plain passwords never leave this process.

use std::io::BufRead as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use uuid::Uuid;

use crate::Config;
use crate::domain::compromised::{
    BreachFilter, STATED_FALSE_POSITIVE_RATE, key_of_password, key_of_sha1_hex,
};
use crate::store::{self, CompromisedListRow, Store};

/// Random keys tried against the new filter to measure its false-positive rate.
const FALSE_POSITIVE_SAMPLES: u64 = 1_000_000;

/// What an import did.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The stored list.
    pub id: Uuid,
    /// Lines read (blank ones not counted).
    pub lines: u64,
    /// `HASH:count` lines left out by `--min-count`.
    pub below_min_count: u64,
    /// Lines that were neither a hash line nor a usable password (longer than 1024 bytes).
    pub unusable: u64,
    /// Distinct keys in the filter.
    pub entries: u64,
    /// The filter's size.
    pub bytes: u64,
    /// Measured over random keys.
    pub false_positive_rate: f64,
    /// Reading, building and storing.
    pub took: Duration,
}

impl ImportReport {
    /// Bytes the filter spends per entry.
    pub fn bytes_per_entry(&self) -> f64 {
        self.bytes as f64 / self.entries.max(1) as f64
    }

    /// The operator's summary.
    pub fn summary(&self, poll_secs: u64) -> String {
        format!(
            "imported {entries} compromised passwords ({lines} lines; {low} below --min-count, {bad} unusable) in {secs:.1} s\n\
             filter: {bytes} bytes, {bpe:.2} bytes per entry\n\
             false-positive rate: {measured:.5}% measured over {samples} random keys (built for {stated:.5}%)\n\
             every replica uses it within {poll_secs} s (compromised_poll_secs); list {id}",
            entries = self.entries,
            lines = self.lines,
            low = self.below_min_count,
            bad = self.unusable,
            secs = self.took.as_secs_f64(),
            bytes = self.bytes,
            bpe = self.bytes_per_entry(),
            measured = self.false_positive_rate * 100.0,
            samples = FALSE_POSITIVE_SAMPLES,
            stated = STATED_FALSE_POSITIVE_RATE * 100.0,
            id = self.id,
        )
    }
}

/// Reads `path`, builds the filter and stores it in place of the previous list.
/// `--min-count` keeps only corpus lines seen at least that often (plain lines always count).
pub async fn import_compromised(
    config: &Config,
    path: &Path,
    min_count: u64,
    progress: bool,
) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if progress {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} ({eta} left) {msg}")
    {
        bar.set_style(style);
    }
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(256).collect())
        .unwrap_or_default();
    let read = tokio::task::spawn_blocking(move || read_keys(file, min_count, &bar))
        .await
        .context("while reading the list")??;
    anyhow::ensure!(
        !read.keys.is_empty(),
        "{} holds no usable line: give a file of `SHA1HEX:count` lines or of passwords, one a line",
        path.display()
    );
    let keys = read.keys;
    let filter = tokio::task::spawn_blocking(move || BreachFilter::build(keys))
        .await
        .context("while building the filter")?
        .map_err(anyhow::Error::msg)?;
    let rate = filter.measured_false_positive_rate(FALSE_POSITIVE_SAMPLES);
    let bytes = filter.to_bytes();
    let store = Store::connect(&config.database_url())
        .await
        .with_context(|| format!("while connecting to {}", config.database_url()))?;
    store.migrate().await.context("while running migrations")?;
    let id = Uuid::now_v7();
    let row = CompromisedListRow {
        id,
        created_at: store::now(),
        source,
        min_count: i64::try_from(min_count).unwrap_or(i64::MAX),
        entries: i64::try_from(filter.entries()).unwrap_or(i64::MAX),
        filter_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        chunks: 0,
        false_positive_rate: rate,
    };
    store
        .replace_compromised_list(row, &bytes)
        .await
        .context("while storing the list")?;
    store.close().await?;
    tracing::info!(list = %id, entries = filter.entries(), "compromised-password list imported");
    Ok(ImportReport {
        id,
        lines: read.lines,
        below_min_count: read.below_min_count,
        unusable: read.unusable,
        entries: filter.entries(),
        bytes: filter.bytes(),
        false_positive_rate: rate,
        took: started.elapsed(),
    })
}

struct ReadKeys {
    keys: Vec<u64>,
    lines: u64,
    below_min_count: u64,
    unusable: u64,
}

fn read_keys(
    file: std::fs::File,
    min_count: u64,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<ReadKeys> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut out = ReadKeys {
        keys: Vec::new(),
        lines: 0,
        below_min_count: 0,
        unusable: 0,
    };
    let mut line = Vec::new();
    let mut since_tick = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .context("while reading the list")?;
        if n == 0 {
            break;
        }
        since_tick += n as u64;
        if since_tick >= 1 << 20 {
            bar.inc(since_tick);
            since_tick = 0;
        }
        let text = trim_line_end(&line);
        if text.is_empty() {
            continue;
        }
        out.lines += 1;
        match parse_line(text) {
            Line::Hash { key, count } if count >= min_count => out.keys.push(key),
            Line::Hash { .. } => out.below_min_count += 1,
            Line::Password(password) => out.keys.push(key_of_password(password)),
            Line::Unusable => out.unusable += 1,
        }
    }
    bar.inc(since_tick);
    bar.finish_and_clear();
    Ok(out)
}

enum Line<'a> {
    Hash { key: u64, count: u64 },
    Password(&'a str),
    Unusable,
}

/// A corpus line (`SHA1HEX:count`, or a bare 40-digit hash), else a password.
fn parse_line(text: &[u8]) -> Line<'_> {
    let Ok(text) = std::str::from_utf8(text) else {
        return Line::Unusable;
    };
    let (hash, count) = match text.split_once(':') {
        Some((hash, count)) => (hash, count.trim().parse::<u64>().ok()),
        None => (text, Some(1)),
    };
    if let (Some(key), Some(count)) = (key_of_sha1_hex(hash), count) {
        return Line::Hash { key, count };
    }
    if text.len() > 1024 {
        return Line::Unusable;
    }
    Line::Password(text)
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_lines_and_passwords_are_told_apart() {
        assert!(matches!(
            parse_line(b"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493"),
            Line::Hash {
                count: 3_861_493,
                ..
            }
        ));
        assert!(matches!(
            parse_line(b"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"),
            Line::Hash { count: 1, .. }
        ));
        assert!(matches!(
            parse_line(b"hunter2:lol"),
            Line::Password("hunter2:lol")
        ));
        assert!(matches!(parse_line(b"\xff\xfe"), Line::Unusable));
        assert_eq!(trim_line_end(b"abc\r\n"), b"abc");
    }
}
