//! The password activity report: per day or hour, what happened to passwords in a tenant —
//! administrators' resets by kind, self-service resets started, completed and abandoned,
//! changes, lock-outs, help requests, blocked reset attempts — and who reset the most.
//! Counted by the database from the audit log ([`crate::store::Store::activity_counts`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use uuid::Uuid;

use super::error::{Error, FieldViolation};
use super::service::Gatehouse;
use super::types::{Actor, Role};

/// The longest window of an hourly report (31 days of hours).
pub const MAX_HOURLY_DAYS: i64 = 31;
/// The longest window of a daily report.
pub const MAX_DAILY_DAYS: i64 = 366;
/// Top actors listed when the caller does not say.
const DEFAULT_TOP: u32 = 10;
/// At most this many top actors.
const MAX_TOP: u32 = 100;

/// Per day or per hour, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// Calendar days.
    Day,
    /// Clock hours.
    Hour,
}

/// What a report covers.
#[derive(Clone, Copy, Debug)]
pub struct ReportQuery {
    /// The first instant counted.
    pub start: DateTime<Utc>,
    /// The first instant not counted.
    pub end: DateTime<Utc>,
    /// The size of a bucket.
    pub granularity: Granularity,
    /// How many top actors to list (0 means 10).
    pub top: u32,
}

/// Counts in one bucket, or in the whole window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Passwords an administrator reset one at a time (including by resolving a help request).
    pub admin_resets: u64,
    /// Passwords reset by a bulk job.
    pub bulk_resets: u64,
    /// Passwords replaced by an invitation to choose one.
    pub invitation_resets: u64,
    /// Self-service resets started (by a person who exists).
    pub self_service_started: u64,
    /// Self-service resets completed.
    pub self_service_completed: u64,
    /// Started and not completed: started minus completed, never below zero.
    pub self_service_abandoned: u64,
    /// Passwords changed by their owner.
    pub password_changes: u64,
    /// Accounts locked out by failed sign-ins.
    pub lockouts: u64,
    /// "Contact an administrator" requests opened (or asked again).
    pub help_requests_opened: u64,
    /// Requests resolved by a reset or an invitation.
    pub help_requests_resolved: u64,
    /// Requests dismissed.
    pub help_requests_dismissed: u64,
    /// Reset attempts refused because a flow ran out of tries or sends, or a code was held
    /// back by a sending limit.
    pub blocked_reset_attempts: u64,
}

impl Activity {
    /// Adds a count: per action and outcome (`kind` empty), or of the events of an action
    /// set apart by kind, which were counted under their action too (a bulk or invitation
    /// reset moves from `admin_resets` to its own count).
    fn add(&mut self, action: &str, outcome: &str, kind: &str, n: u64) {
        let success = outcome == "success";
        if action == "password.reset" && success && !kind.is_empty() {
            self.admin_resets = self.admin_resets.saturating_sub(n);
        }
        let slot = match (action, kind) {
            ("password.reset", "bulk") if success => &mut self.bulk_resets,
            ("password.reset", "invitation") if success => &mut self.invitation_resets,
            ("password.reset", "") if success => &mut self.admin_resets,
            ("password.self_reset", _) if success => &mut self.self_service_completed,
            ("password.change", _) if success => &mut self.password_changes,
            ("reset.start", _) => &mut self.self_service_started,
            ("user.locked_out", _) => &mut self.lockouts,
            ("reset_request.ask", _) if success => &mut self.help_requests_opened,
            ("reset_request.resolve", _) if success => &mut self.help_requests_resolved,
            ("reset_request.dismiss", _) if success => &mut self.help_requests_dismissed,
            ("reset.code_held_back", _) | (_, "blocked") => &mut self.blocked_reset_attempts,
            _ => return,
        };
        *slot += n;
    }

    fn settle(&mut self) {
        self.self_service_abandoned = self
            .self_service_started
            .saturating_sub(self.self_service_completed);
    }

    fn sum(&mut self, other: &Activity) {
        self.admin_resets += other.admin_resets;
        self.bulk_resets += other.bulk_resets;
        self.invitation_resets += other.invitation_resets;
        self.self_service_started += other.self_service_started;
        self.self_service_completed += other.self_service_completed;
        self.password_changes += other.password_changes;
        self.lockouts += other.lockouts;
        self.help_requests_opened += other.help_requests_opened;
        self.help_requests_resolved += other.help_requests_resolved;
        self.help_requests_dismissed += other.help_requests_dismissed;
        self.blocked_reset_attempts += other.blocked_reset_attempts;
    }
}

/// One bucket of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityBucket {
    /// The bucket's first instant (UTC midnight or the top of an hour).
    pub start: DateTime<Utc>,
    /// What happened in it.
    pub activity: Activity,
}

/// Who reset how many passwords.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetActor {
    /// `user:<id>` or `service:<name>`.
    pub actor: String,
    /// The person's display name (or the service's name); empty when the user is gone.
    pub display_name: String,
    /// Successful administrator resets (single, bulk and invitations).
    pub resets: u64,
}

/// A password activity report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityReport {
    /// Every bucket of the window, oldest first, empty ones included.
    pub buckets: Vec<ActivityBucket>,
    /// The whole window.
    pub totals: Activity,
    /// The actors with the most resets, most first.
    pub top_actors: Vec<ResetActor>,
}

impl Gatehouse {
    /// The tenant's password activity in a window. Roles: global_admin, auditor.
    pub async fn password_activity_report(
        &self,
        actor: &Actor,
        query: ReportQuery,
    ) -> Result<ActivityReport, Error> {
        self.require_tenant_wide(actor, "report.read", &[Role::GlobalAdmin, Role::Auditor])
            .await?;
        let step = check(&query)?;
        let top = match query.top {
            0 => DEFAULT_TOP,
            n => n.min(MAX_TOP),
        };
        let hourly = query.granularity == Granularity::Hour;
        let counts = self
            .store
            .activity_counts(actor.tenant_id, query.start, query.end, hourly)
            .await?;
        let first = query.start.duration_trunc(step).map_err(|e| {
            Error::invalid("start_time", format!("cannot start a bucket there: {e}"))
        })?;
        let mut buckets: BTreeMap<DateTime<Utc>, Activity> = BTreeMap::new();
        let mut at = first;
        while at < query.end {
            buckets.insert(at, Activity::default());
            at += step;
        }
        for count in counts {
            let Some(start) = bucket_start(&count.bucket, hourly) else {
                return Err(super::service::corrupt(format!(
                    "report bucket {}",
                    count.bucket
                )));
            };
            buckets.entry(start).or_default().add(
                &count.action,
                &count.outcome,
                &count.kind,
                u64::try_from(count.n).unwrap_or(0),
            );
        }
        let mut totals = Activity::default();
        let buckets: Vec<ActivityBucket> = buckets
            .into_iter()
            .map(|(start, mut activity)| {
                totals.sum(&activity);
                activity.settle();
                ActivityBucket { start, activity }
            })
            .collect();
        totals.settle();
        let leaders = self
            .store
            .top_resetters(actor.tenant_id, query.start, query.end, u64::from(top))
            .await?;
        let ids: Vec<Uuid> = leaders
            .iter()
            .filter_map(|l| l.actor.strip_prefix("user:").and_then(|id| id.parse().ok()))
            .collect();
        let names: HashMap<String, String> = self
            .store
            .users_by_ids(actor.tenant_id, &ids)
            .await?
            .into_iter()
            .map(|u| (format!("user:{}", u.id), u.display_name))
            .collect();
        let top_actors = leaders
            .into_iter()
            .map(|l| ResetActor {
                display_name: names.get(&l.actor).cloned().unwrap_or_else(|| {
                    l.actor
                        .strip_prefix("service:")
                        .unwrap_or_default()
                        .to_owned()
                }),
                actor: l.actor,
                resets: u64::try_from(l.n).unwrap_or(0),
            })
            .collect();
        Ok(ActivityReport {
            buckets,
            totals,
            top_actors,
        })
    }
}

/// The window must be ordered and not longer than its granularity allows; returns the step.
fn check(query: &ReportQuery) -> Result<Duration, Error> {
    let (step, max_days) = match query.granularity {
        Granularity::Day => (Duration::days(1), MAX_DAILY_DAYS),
        Granularity::Hour => (Duration::hours(1), MAX_HOURLY_DAYS),
    };
    let mut violations = Vec::new();
    if query.end <= query.start {
        violations.push(FieldViolation::new("end_time", "must be after start_time"));
    } else if query.end - query.start > Duration::days(max_days) {
        violations.push(FieldViolation::new(
            "end_time",
            format!(
                "a {} report covers at most {max_days} days; narrow the window or report per day",
                match query.granularity {
                    Granularity::Day => "daily",
                    Granularity::Hour => "hourly",
                }
            ),
        ));
    }
    Error::from_violations(violations)?;
    Ok(step)
}

/// The start of a bucket from the database's text: `YYYY-MM-DD`, and the hour at 11..13.
fn bucket_start(text: &str, hourly: bool) -> Option<DateTime<Utc>> {
    let date = chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    let hour: u32 = if hourly {
        text.get(11..13)?.parse().ok()?
    } else {
        0
    };
    Some(date.and_hms_opt(hour, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_read_both_databases_spellings() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("a time");
        assert_eq!(
            bucket_start("2026-12-01", false),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            bucket_start("2026-12-01T07", true),
            Some(at("2026-12-01T07:00:00Z"))
        );
        assert_eq!(
            bucket_start("2026-12-01 23", true),
            Some(at("2026-12-01T23:00:00Z"))
        );
        assert_eq!(bucket_start("garbage", false), None);
    }

    #[test]
    fn events_land_in_their_counts_and_abandoned_is_what_did_not_finish() {
        let mut a = Activity::default();
        // Five resets, three of them by a bulk job (counted again under their kind).
        a.add("password.reset", "success", "", 5);
        a.add("password.reset", "success", "bulk", 3);
        a.add("password.reset", "denied", "", 9);
        a.add("reset.start", "success", "", 5);
        a.add("password.self_reset", "success", "", 2);
        a.add("reset.code_rejected", "failure", "blocked", 1);
        a.add("reset.code_rejected", "failure", "", 4);
        a.add("reset.code_held_back", "denied", "", 1);
        a.settle();
        assert_eq!((a.bulk_resets, a.admin_resets), (3, 2));
        assert_eq!(a.self_service_abandoned, 3);
        assert_eq!(a.blocked_reset_attempts, 2);
    }
}
