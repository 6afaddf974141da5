//! `report passwords`.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use gatehouse_client::pb;
use serde_json::{Value, json};

use super::Context;
use crate::args::ReportCommand;
use crate::output::{Failure, Table, print_json, time};

pub(super) async fn run(context: &Context, command: ReportCommand) -> Result<(), Failure> {
    let ReportCommand::Passwords {
        from,
        to,
        hourly,
        top,
    } = command;
    let end = match &to {
        Some(text) => instant("--to", text)?,
        None => SystemTime::now(),
    };
    let start = match &from {
        Some(text) => instant("--from", text)?,
        None => end
            .checked_sub(Duration::from_secs(30 * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH),
    };
    let report = context.check(
        "cannot read the password activity report",
        context
            .client()?
            .calls()
            .get_password_activity_report(pb::GetPasswordActivityReportRequest {
                start_time: Some(start.into()),
                end_time: Some(end.into()),
                granularity: if hourly {
                    pb::ReportGranularity::Hour
                } else {
                    pb::ReportGranularity::Day
                } as i32,
                top_actors: i32::try_from(top).unwrap_or(i32::MAX),
            })
            .await,
    )?;
    if context.json {
        print_json(&json!({
            "buckets": report.buckets.iter().map(|b| {
                let mut fields = activity_json(b.activity.as_ref());
                fields["start_time"] = Value::String(time(b.start_time.as_ref()));
                fields
            }).collect::<Vec<_>>(),
            "totals": activity_json(report.totals.as_ref()),
            "top_actors": report.top_actors.iter().map(|a| json!({
                "actor": a.actor, "display_name": a.display_name, "resets": a.resets,
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let mut table = Table::new(&[
        "PERIOD",
        "ADMIN",
        "BULK",
        "INVITED",
        "SELF DONE",
        "SELF ABANDONED",
        "CHANGED",
        "LOCKOUTS",
        "HELP OPENED",
        "HELP RESOLVED",
        "HELP DISMISSED",
        "BLOCKED",
    ]);
    for bucket in &report.buckets {
        let period = time(bucket.start_time.as_ref());
        let period = if hourly {
            period.get(..13).map(|p| format!("{p}h")).unwrap_or(period)
        } else {
            period.get(..10).map(str::to_owned).unwrap_or(period)
        };
        table.row(row(period, bucket.activity.as_ref()));
    }
    table.row(row("TOTAL".to_owned(), report.totals.as_ref()));
    table.print();
    if !report.top_actors.is_empty() {
        println!();
        let mut leaders = Table::new(&["TOP RESETTER", "NAME", "RESETS"]);
        for a in &report.top_actors {
            leaders.row(vec![
                a.actor.clone(),
                a.display_name.clone(),
                a.resets.to_string(),
            ]);
        }
        leaders.print();
    }
    Ok(())
}

/// A day (`2026-11-01`, midnight UTC) or an RFC 3339 instant.
fn instant(flag: &str, text: &str) -> Result<SystemTime, Failure> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let stamp = prost_types::Timestamp::from_str(&full).map_err(|_| {
        Failure::usage(format!(
            "{flag} {text}: give a day such as 2026-11-01 or a time such as 2026-11-01T08:00:00Z"
        ))
    })?;
    SystemTime::try_from(stamp)
        .map_err(|_| Failure::usage(format!("{flag} {text}: not a time this machine can hold")))
}

fn counts(a: &pb::PasswordActivity) -> [i64; 11] {
    [
        a.admin_resets,
        a.bulk_resets,
        a.invitation_resets,
        a.self_service_resets_completed,
        a.self_service_resets_abandoned,
        a.password_changes,
        a.lockouts,
        a.help_requests_opened,
        a.help_requests_resolved,
        a.help_requests_dismissed,
        a.blocked_reset_attempts,
    ]
}

fn row(period: String, activity: Option<&pb::PasswordActivity>) -> Vec<String> {
    let activity = activity.cloned().unwrap_or_default();
    std::iter::once(period)
        .chain(counts(&activity).iter().map(i64::to_string))
        .collect()
}

fn activity_json(activity: Option<&pb::PasswordActivity>) -> Value {
    let a = activity.cloned().unwrap_or_default();
    json!({
        "admin_resets": a.admin_resets,
        "bulk_resets": a.bulk_resets,
        "invitation_resets": a.invitation_resets,
        "self_service_resets_started": a.self_service_resets_started,
        "self_service_resets_completed": a.self_service_resets_completed,
        "self_service_resets_abandoned": a.self_service_resets_abandoned,
        "password_changes": a.password_changes,
        "lockouts": a.lockouts,
        "help_requests_opened": a.help_requests_opened,
        "help_requests_resolved": a.help_requests_resolved,
        "help_requests_dismissed": a.help_requests_dismissed,
        "blocked_reset_attempts": a.blocked_reset_attempts,
    })
}
