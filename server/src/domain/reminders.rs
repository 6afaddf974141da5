//! Password expiry reminders: once per password, a policy-set number of days before it
//! expires, to people whose password can expire (not exempt, not blocked).

use super::error::Error;
use super::service::Gatehouse;
use super::types::UserState;
use crate::store::{self, NewMessage, UserRow};

/// Passwords examined per query.
const BATCH: u64 = 200;

impl Gatehouse {
    /// Queues the reminders that are due; returns how many. Safe to run on every server at
    /// once: each reminder is claimed atomically with the message in one transaction.
    pub async fn send_expiry_reminders(&self) -> Result<usize, Error> {
        let now = store::now();
        let mut queued = 0;
        for tenant in self.store.tenants().await? {
            let policy = self.policy(tenant.id).await?;
            if policy.max_age_days == 0 || policy.expiry_reminder_days == 0 {
                continue;
            }
            let age = chrono::Duration::days(policy.max_age_days.into());
            let ahead =
                chrono::Duration::days(policy.expiry_reminder_days.min(policy.max_age_days).into());
            // Due: expires within `ahead` and has not expired yet.
            let (set_after, set_before) = (now - age, now - age + ahead);
            loop {
                let due = self
                    .store
                    .unreminded_passwords(tenant.id, set_after, set_before, BATCH)
                    .await?;
                let done = (due.len() as u64) < BATCH;
                for credential in due {
                    let user = self.store.user_by_id(tenant.id, credential.user_id).await?;
                    let tx = self.store.write_tenant(tenant.id).await?;
                    // Claimed even when nobody is told (exempt or blocked), so it is not
                    // examined again for this password.
                    if tx
                        .claim_reminder(credential.user_id, credential.set_at)
                        .await?
                        && let Some(user) = user.filter(|u| {
                            !u.password_never_expires && u.state == UserState::Active.as_str()
                        })
                    {
                        self.queue(&tx, reminder(&user, credential.set_at + age))
                            .await?;
                        queued += 1;
                    }
                    tx.commit().await?;
                }
                if done {
                    break;
                }
            }
        }
        Ok(queued)
    }
}

fn reminder(user: &UserRow, expires_at: chrono::DateTime<chrono::Utc>) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: super::notices::recipient(user),
        subject: "Your password expires soon".to_owned(),
        body: format!(
            "Hello {name},\n\nThe password of your account {username} expires on {date} (UTC).\n\
             Change it before then; afterwards you will have to change it when you sign in.\n",
            name = user.display_name,
            username = user.username,
            date = expires_at.format("%Y-%m-%d %H:%M"),
        ),
    }
}
