//! The database URL, which may carry a password: its `Debug` and `Display` hide it.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A `sqlite://` or `postgres://` URL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The URL of a SQLite file, created when missing.
    pub fn sqlite_file(path: &Path) -> Self {
        DatabaseUrl(format!("sqlite://{}?mode=rwc", path.display()))
    }

    /// Whether the URL names SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return "<unparsable database url>".to_owned();
        };
        let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}{tail}")
            }
            None => self.0.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        let url = DatabaseUrl::new("postgres://gate:s3cret@db.internal:5432/gatehouse");
        assert_eq!(
            format!("{url}"),
            "postgres://gate:***@db.internal:5432/gatehouse"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let plain = DatabaseUrl::new("sqlite://data/g.db?mode=rwc");
        assert_eq!(plain.redacted(), "sqlite://data/g.db?mode=rwc");
    }
}
