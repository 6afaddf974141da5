//! `passwords bulk-reset`: a file of usernames in, one streamed call, a results file out.

use std::fs::File;
use std::io::IsTerminal as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use gatehouse_client::{BulkEvent, BulkItem, Code, pb};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::args::BulkResetArgs;
use crate::commands::Context;
use crate::output::{Failure, Table, print_json};

/// Users per call: the server's cap. Longer files are sent in several calls.
const PER_CALL: usize = 10_000;

pub(crate) async fn run(context: &Context, args: BulkResetArgs) -> Result<(), Failure> {
    let names = read_users(&args.from)?;
    let client = context.client()?;
    // Created (0600) before anything secret exists, and never over an earlier run's file.
    let mut results = match &args.out {
        Some(path) => Some(ResultsFile::create(path)?),
        None => None,
    };
    let key = args.idempotency_key.clone().unwrap_or_else(new_key);
    if !args.dry_run {
        // Said before anything happens, so that a run cut in any way (a kill, a lost
        // terminal) can be finished with it. The key is no secret: only an administrator
        // allowed to reset these users can use it.
        eprintln!("idempotency key: {key}");
    }
    let progress = progress_bar(names.len() as u64);
    let mut run = Run {
        progress: &progress,
        key: &key,
        started: false,
        dry_run: args.dry_run,
    };
    let mut totals = pb::BulkResetSummary::default();
    let mut jobs: Vec<String> = Vec::new();
    let mut printed = Vec::new();

    for (call, chunk) in names.chunks(PER_CALL).enumerate() {
        let call_key = if names.len() > PER_CALL {
            format!("{key}/{call}")
        } else {
            key.clone()
        };
        let request = pb::BulkResetPasswordsRequest {
            users: chunk
                .iter()
                .map(|n| pb::UserRef::from_name_or_id(n))
                .collect(),
            dry_run: args.dry_run,
            idempotency_key: call_key,
            delivery: if args.invite {
                pb::ResetDelivery::Invitation as i32
            } else {
                pb::ResetDelivery::Unspecified as i32
            },
            ..Default::default()
        };
        let mut stream = match client.bulk_reset(request).await {
            Ok(stream) => stream,
            Err(error) => {
                // An answer the server gave at once (denied, invalid) did nothing; a call
                // lost on its way may have started resetting.
                run.started |= !error.never_sent()
                    && matches!(
                        error.code(),
                        Code::Unavailable
                            | Code::DeadlineExceeded
                            | Code::Cancelled
                            | Code::Unknown
                            | Code::Internal
                    );
                let failure = context.fail("cannot start the bulk reset", &error);
                return Err(run.abandon(results, failure));
            }
        };
        run.started = true;
        while let Some(event) = stream.next_event().await {
            match event {
                Ok(BulkEvent::Item(item)) => {
                    let name = usize::try_from(item.index)
                        .ok()
                        .and_then(|i| chunk.get(i))
                        .cloned()
                        .unwrap_or_else(|| strip_ref(&item.user_ref).to_owned());
                    match &mut results {
                        Some(file) => {
                            if let Err(failure) = file.write(&name, &item) {
                                return Err(run.abandon(results, failure));
                            }
                        }
                        None => printed.push((name, item)),
                    }
                    progress.inc(1);
                }
                Ok(BulkEvent::Started(started)) => jobs.push(started.job_id),
                Ok(BulkEvent::Summary(summary)) => add(&mut totals, &summary),
                Err(error) => {
                    let failure = context.fail("the bulk reset was cut short", &error);
                    return Err(run.abandon(results, failure));
                }
            }
        }
    }
    progress.finish_and_clear();
    let out = match results {
        Some(file) => match file.finish() {
            Ok(path) => Some(path),
            Err(failure) => return Err(run.abandon(None, failure)),
        },
        None => None,
    };
    report(context, &args, &totals, out.as_deref(), &printed, &key);
    // Every result is written (or printed): the server may now forget the passwords it kept
    // for a retry. If this fails, a retry with the key would hand them out again; no harm.
    for job_id in jobs {
        let acknowledged = client
            .calls()
            .acknowledge_bulk_results(pb::AcknowledgeBulkResultsRequest { job_id })
            .await;
        if let Err(error) = acknowledged {
            eprintln!(
                "warning: could not acknowledge the results ({error}); a run with the same key shows the passwords again"
            );
        }
    }
    if totals.failed > 0 {
        return Err(Failure::other(format!(
            "{} reset(s) failed (see the results); the rest are done",
            totals.failed
        ))
        .with_hint(format!(
            "run again with --idempotency-key {key} and another --out file to retry them; \
             nobody is reset twice"
        )));
    }
    Ok(())
}

/// What a failure needs to know about the run so far.
struct Run<'a> {
    progress: &'a ProgressBar,
    key: &'a str,
    /// A call may have reached the server, so some users may be reset already.
    started: bool,
    /// Nothing to finish: a dry run changes nobody.
    dry_run: bool,
}

impl Run<'_> {
    /// After a failure (a call refused or cut, a results file that cannot be written): the
    /// progress bar goes; an empty results file is removed; a partial one is kept (it holds
    /// passwords already given out); and once a call has started, the way to finish is spelt
    /// out.
    fn abandon(&self, results: Option<ResultsFile>, failure: Failure) -> Failure {
        self.progress.finish_and_clear();
        if let Some(file) = results {
            let rows = file.rows;
            let path = file.path.clone();
            if rows == 0 {
                drop(file);
                let _ = std::fs::remove_file(&path);
            } else if let Err(e) = file.finish() {
                eprintln!("error: {e}");
            } else {
                eprintln!(
                    "{rows} result(s) were written to {} before the failure",
                    path.display()
                );
            }
        }
        if !self.started || self.dry_run {
            return failure;
        }
        failure.with_hint(format!(
            "run the same command again with --idempotency-key {} (and another --out file) to \
             finish: users already reset are reported as already_done, nobody is reset twice",
            self.key
        ))
    }
}

fn report(
    context: &Context,
    args: &BulkResetArgs,
    totals: &pb::BulkResetSummary,
    out: Option<&Path>,
    printed: &[(String, BulkItem)],
    key: &str,
) {
    if context.json {
        let mut value = json!({
            "dry_run": args.dry_run,
            "idempotency_key": key,
            "job_id": totals.job_id,
            "total": totals.total,
            "reset": totals.reset,
            "would_reset": totals.would_reset,
            "refused": totals.refused,
            "not_found": totals.not_found,
            "already_done": totals.already_done,
            "failed": totals.failed,
            "duplicates": totals.duplicates,
            "results_file": out.map(|p| p.display().to_string()),
        });
        if out.is_none() {
            value["results"] = Value::Array(
                printed
                    .iter()
                    .map(|(name, item)| {
                        json!({
                            "username": name,
                            "status": status(item.outcome),
                            "temporary_password": item.temporary_password.as_ref().map(|p| p.expose()),
                            "reason": item.reason,
                        })
                    })
                    .collect(),
            );
        }
        print_json(&value);
        return;
    }
    if out.is_none() {
        let mut table = Table::new(&["USERNAME", "STATUS", "REASON"]);
        for (name, item) in printed {
            table.row(vec![
                name.clone(),
                status(item.outcome).to_owned(),
                item.reason.clone(),
            ]);
        }
        table.print();
    }
    let others = format!(
        "refused {}, not found {}, already done {}, failed {}, duplicates {}",
        totals.refused, totals.not_found, totals.already_done, totals.failed, totals.duplicates
    );
    if args.dry_run {
        println!(
            "dry run: would reset {} of {} user(s) ({others}); nothing was changed",
            totals.would_reset, totals.total
        );
    } else {
        println!(
            "reset {} of {} user(s) ({others})",
            totals.reset, totals.total
        );
    }
    if let Some(path) = out {
        println!("results in {} (readable by you alone)", path.display());
    }
}

fn add(totals: &mut pb::BulkResetSummary, s: &pb::BulkResetSummary) {
    if totals.job_id.is_empty() {
        totals.job_id.clone_from(&s.job_id);
    }
    totals.total += s.total;
    totals.reset += s.reset;
    totals.would_reset += s.would_reset;
    totals.refused += s.refused;
    totals.not_found += s.not_found;
    totals.already_done += s.already_done;
    totals.failed += s.failed;
    totals.duplicates += s.duplicates;
}

fn status(outcome: pb::BulkOutcome) -> &'static str {
    match outcome {
        pb::BulkOutcome::Reset => "reset",
        pb::BulkOutcome::WouldReset => "would_reset",
        pb::BulkOutcome::Refused => "refused",
        pb::BulkOutcome::NotFound => "not_found",
        pb::BulkOutcome::AlreadyDone => "already_done",
        pb::BulkOutcome::Failed => "failed",
        pb::BulkOutcome::Duplicate => "duplicate",
        pb::BulkOutcome::Unspecified => "unknown",
    }
}

fn strip_ref(user_ref: &str) -> &str {
    user_ref
        .strip_prefix("username:")
        .or_else(|| user_ref.strip_prefix("id:"))
        .unwrap_or(user_ref)
}

/// A key of this run, so that a cut run can be finished without resetting anyone twice.
fn new_key() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "gatehouse-admin-{}-{:09}-{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id()
    )
}

fn progress_bar(total: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} users  {elapsed_precise} (eta {eta})")
    {
        bar.set_style(style);
    }
    bar
}

/// The results: CSV with `username,status,temporary_password,reason`, one row per user.
struct ResultsFile {
    path: PathBuf,
    writer: csv::Writer<File>,
    rows: usize,
}

impl ResultsFile {
    fn create(path: &Path) -> Result<ResultsFile, Failure> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                let failure = Failure::other(format!(
                    "cannot create the results file {}: {e}",
                    path.display()
                ));
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    failure.with_hint(
                        "it may hold an earlier run's passwords: choose another --out file",
                    )
                } else {
                    failure
                }
            })?;
        let mut results = ResultsFile {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(file),
            rows: 0,
        };
        results.record(&["username", "status", "temporary_password", "reason"])?;
        Ok(results)
    }

    /// One row, handed to the system at once: a run killed after this loses no password.
    fn write(&mut self, name: &str, item: &BulkItem) -> Result<(), Failure> {
        let password = item.temporary_password.as_ref().map_or("", |p| p.expose());
        self.record(&[name, status(item.outcome), password, &item.reason])?;
        self.rows += 1;
        Ok(())
    }

    fn record(&mut self, fields: &[&str]) -> Result<(), Failure> {
        let fail = |e: &dyn std::fmt::Display| {
            Failure::other(format!("cannot write {}: {e}", self.path.display()))
        };
        self.writer.write_record(fields).map_err(|e| fail(&e))?;
        self.writer.flush().map_err(|e| fail(&e))
    }

    fn finish(mut self) -> Result<PathBuf, Failure> {
        let path = self.path.clone();
        let fail =
            |e: std::io::Error| Failure::other(format!("cannot write {}: {e}", path.display()));
        self.writer.flush().map_err(fail)?;
        self.writer.get_ref().sync_all().map_err(fail)?;
        Ok(self.path)
    }
}

/// Usernames (or ids) from a CSV file with a `username` column, or one per line. Blank lines
/// and `#` comments are skipped in both.
fn read_users(path: &Path) -> Result<Vec<String>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::other(format!("cannot read the user list {}: {e}", path.display()))
    })?;
    parse_users(&text).map_err(|why| Failure::other(format!("{}: {why}", path.display())))
}

/// Rows without a username, named by line, at most this many.
const MISSING_SHOWN: usize = 10;

fn parse_users(text: &str) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_comment = |line: &str| line.trim_start().starts_with('#');
    let Some(first) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !is_comment(l))
    else {
        return Err("names no users".to_owned());
    };
    let unquoted = first
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(first);
    let names: Vec<String> = if first.contains(',') || unquoted.eq_ignore_ascii_case("username") {
        // Comment lines become blank lines (which the reader skips), so that byte offsets
        // and line numbers stay those of the file.
        let text: String = text
            .split_inclusive('\n')
            .map(|line| {
                if is_comment(line) {
                    if line.ends_with('\n') { "\n" } else { "" }
                } else {
                    line
                }
            })
            .collect();
        csv_usernames(&text)?
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !is_comment(l))
            .map(str::to_owned)
            .collect()
    };
    if names.is_empty() {
        return Err("names no users".to_owned());
    }
    Ok(names)
}

/// The `username` column. A row of empty fields (a spreadsheet's blank row) is skipped; a
/// row with other fields but no username is an error, by line number, so nobody meant to be
/// reset is silently left out.
fn csv_usernames(text: &str) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("not valid CSV: {e}"))?
        .clone();
    let Some(column) = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("username"))
    else {
        return Err(format!(
            "the first line has no `username` column (it has: {}); give a CSV with a \
             username column, or one username per line",
            headers.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let mut names = Vec::new();
    let mut missing = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("not valid CSV: {e}"))?;
        match record.get(column).filter(|n| !n.is_empty()) {
            Some(name) => names.push(name.to_owned()),
            None if record.iter().all(str::is_empty) => {}
            None => {
                // From the byte offset (the reader's own line count skips blank lines), which
                // is where the blank lines before the row begin.
                let start = record
                    .position()
                    .and_then(|p| usize::try_from(p.byte()).ok())
                    .unwrap_or(0);
                let rest = text.get(start..).unwrap_or_default();
                let row = start + rest.len() - rest.trim_start_matches(['\r', '\n']).len();
                let before = text.get(..row).unwrap_or_default();
                missing.push(before.matches('\n').count() + 1);
            }
        }
    }
    if !missing.is_empty() {
        let mut lines: Vec<String> = missing
            .iter()
            .take(MISSING_SHOWN)
            .map(usize::to_string)
            .collect();
        if missing.len() > MISSING_SHOWN {
            lines.push(format!("and {} more", missing.len() - MISSING_SHOWN));
        }
        return Err(format!(
            "{} row(s) have no username (line {}); fill them in or remove them",
            missing.len(),
            lines.join(", ")
        ));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_with_a_username_column_in_any_position() {
        let names = parse_users(
            "\u{feff}display_name,Username,dept\n\"Doe, Jane\",jane@x.example,hr\nBob,bob@x.example,it\n,,\n",
        )
        .expect("parse");
        assert_eq!(names, ["jane@x.example", "bob@x.example"]);
    }

    #[test]
    fn one_username_per_line_with_blanks_and_comments() {
        let names =
            parse_users("# leavers\nalice@x.example\n\n  bob@x.example  \n").expect("parse");
        assert_eq!(names, ["alice@x.example", "bob@x.example"]);
    }

    #[test]
    fn a_single_username_header_is_a_csv() {
        let names = parse_users("username\ncarol@x.example\n").expect("parse");
        assert_eq!(names, ["carol@x.example"]);
    }

    #[test]
    fn comments_are_skipped_in_a_csv_and_before_its_header() {
        let names = parse_users(
            "# exported 2026-11-28\n  # by hr\ndisplay_name,username\n# leavers\nA,a@x.example\n\n  # B left already\nC,c@x.example\n",
        )
        .expect("parse");
        assert_eq!(names, ["a@x.example", "c@x.example"]);
        let names = parse_users("# one per line\n# alice left\nbob@x.example\n").expect("parse");
        assert_eq!(names, ["bob@x.example"]);
    }

    #[test]
    fn a_quoted_username_header_is_a_csv() {
        let names = parse_users("\"username\"\n\"carol@x.example\"\n").expect("parse");
        assert_eq!(names, ["carol@x.example"]);
        let names = parse_users("\"Username\",\"dept\"\n\"dan@x.example\",it\n").expect("parse");
        assert_eq!(names, ["dan@x.example"]);
    }

    #[test]
    fn rows_without_a_username_fail_by_line_number() {
        let error = parse_users(
            "# header next\nname,username\nA,a@x.example\nB,\n# comment\nC\nD,d@x.example\n",
        )
        .expect_err("two rows lack a username");
        assert!(
            error.starts_with("2 row(s) have no username (line 4, 6)"),
            "{error}"
        );
        let many: String = (0..12).map(|i| format!("N{i},\n")).collect();
        let error = parse_users(&format!("name,username\n{many}")).expect_err("twelve");
        assert!(
            error.contains("line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, and 2 more"),
            "{error}"
        );
    }

    #[test]
    fn a_csv_without_a_username_column_is_refused_with_its_columns() {
        let error = parse_users("name,email\nA,a@x\n").expect_err("no username column");
        assert!(error.contains("name, email"), "{error}");
        assert_eq!(parse_users("\n  \n").expect_err("empty"), "names no users");
    }
}
