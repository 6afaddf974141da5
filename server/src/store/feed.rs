//! Who hears of audit events once they commit: watchers of the audit feed on this replica,
//! woken at once (other replicas' commits reach them by polling), and one observer (the
//! metrics), told each committed event. Nothing hears of an event whose transaction rolled
//! back.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;

use super::NewAuditEvent;

/// Told each committed audit event.
pub type AuditObserver = Arc<dyn Fn(&NewAuditEvent) + Send + Sync>;

/// The audit feed of one process.
pub(crate) struct AuditFeed {
    /// Moves on with every commit that appended events.
    commits: watch::Sender<u64>,
    observer: OnceLock<AuditObserver>,
}

impl Default for AuditFeed {
    fn default() -> Self {
        AuditFeed {
            commits: watch::Sender::new(0),
            observer: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for AuditFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFeed")
            .field("commits", &*self.commits.borrow())
            .field("observed", &self.observer.get().is_some())
            .finish()
    }
}

impl AuditFeed {
    /// Called after a transaction that appended `events` committed.
    pub(crate) fn committed(&self, events: &[NewAuditEvent]) {
        if events.is_empty() {
            return;
        }
        if let Some(observer) = self.observer.get() {
            events.iter().for_each(|event| observer(event));
        }
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees each later commit (mark it seen before reading, then wait).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Sets the observer; only the first call takes effect.
    pub(crate) fn observe(&self, observer: AuditObserver) {
        let _ = self.observer.set(observer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(action: &str) -> NewAuditEvent {
        NewAuditEvent {
            tenant_id: uuid::Uuid::nil(),
            actor: "system".into(),
            caller_service: None,
            action: action.into(),
            target: "tenant".into(),
            outcome: "success".into(),
            details: "{}".into(),
        }
    }

    #[tokio::test]
    async fn a_commit_wakes_watchers_and_tells_the_observer_each_event() {
        let feed = AuditFeed::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        feed.observe(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        let mut watcher = feed.subscribe();
        watcher.mark_unchanged();
        feed.committed(&[]);
        assert!(
            !watcher.has_changed().expect("open"),
            "no events, no wake-up"
        );
        feed.committed(&[event("a"), event("b")]);
        tokio::time::timeout(std::time::Duration::from_secs(1), watcher.changed())
            .await
            .expect("woken")
            .expect("open");
        assert_eq!(seen.load(Ordering::Relaxed), 2);
    }
}
